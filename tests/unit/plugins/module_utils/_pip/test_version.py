# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Requirements and PEP 440 specifiers, against the packaging library (the release pip 26.3 vendors).

The engine matches pre-releases like any version, so packaging is asked with prereleases=True.
"""

from __future__ import annotations

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.errors import InvalidValue
from ansible_collections.fleet.cache.plugins.module_utils._pip.version import Specifier, parse_requirement, parse_version

VERSIONS = [
    "0", "0.9", "1", "1.0", "1.0.0", "1.0.0.0", "1.0a1", "1.0.0a1", "1.0b2", "1.0rc1", "1.0c1", "1.0.dev0", "1.0.0.dev1", "1.0a1.dev1",
    "1.0.post1", "1.0.0.post1", "1.0.post1.dev1", "1.0-1", "1.0+local", "1.0+abc.5", "1.0.post1+local", "1.0.0+local", "1.0.1", "1.1",
    "1.1a1", "1.9", "2", "2.0", "2.0.dev0", "2.0rc1", "2.0.post1", "1!0.5", "1!1.0", "v1.0", "1.0.POST1", "1.0-alpha1", "1.0_rc_1",
    "1.0rc1.post1", "1.0rc1+x", "2.0.0.post1", "2.0+1", "10.0", "0.0", "0.0.0.dev0", "not-a-version", "1.0-foo", "",
]  # fmt: skip

_SPEC_VERSIONS = [
    "1",
    "1.0",
    "1.0.0",
    "1.0a1",
    "1.0rc1",
    "1.0.post1",
    "1.0.dev0",
    "2.0",
    "1!1.0",
    "1.0+local",
    "2",
    "0.9",
    "1.0rc1.post1",
    "2.0.post1",
    "2.0rc1",
    "1.1",
]
SPECS = [
    op + version
    for op in ("==", "!=", "<", "<=", ">", ">=", "~=")
    for version in _SPEC_VERSIONS
    # PEP 440 allows a local version only with == and !=, and ~= needs two release segments.
    if not (op in ("<", "<=", ">", ">=", "~=") and "+" in version) and not (op == "~=" and "." not in version.rsplit("!", maxsplit=1)[-1])
]
SPECS += ["==" + wildcard for wildcard in ("1.*", "1.0.*", "2.*", "1!1.*", "0.*", "1.0.0.*")]
SPECS += ["!=" + wildcard for wildcard in ("1.*", "1.0.*", "2.*", "1!1.*", "0.*", "1.0.0.*")]
SPECS += ["===1.0", "===1.0+local", "===not-a-version", "~=1.0,!=1.0.1", ">=1.0,<2.0", ">1.0,<=2.0,!=1.1"]

# Where the engine and packaging 26.3 disagree today (see the xfail tests below).
#  - trailing zeros: '<1' accepts 1.0rc1 and '>1' accepts 1.0.post1, because the engine compares the release tuples
#    (1,) and (1, 0) as written; PEP 440 (and every packaging release) takes 1 == 1.0.
#  - packaging 26 narrowed the exclusive operators to V's own family: '<1.0.post1' allows 1.0rc1 and '>1.0.dev0'
#    allows 1.0.post1; the engine still excludes every pre-/post-release of the same release.
KNOWN_DIFFERENCES = {
    "<1": {"1.0a1", "1.0.0a1", "1.0b2", "1.0rc1", "1.0c1", "1.0.dev0", "1.0.0.dev1", "1.0a1.dev1", "1.0-alpha1", "1.0_rc_1", "1.0rc1.post1", "1.0rc1+x"},
    "<1.0": {"1.0.0a1", "1.0.0.dev1"},
    "<1.0.0": {"1.0a1", "1.0b2", "1.0rc1", "1.0c1", "1.0.dev0", "1.0a1.dev1", "1.0-alpha1", "1.0_rc_1", "1.0rc1.post1", "1.0rc1+x"},
    "<1.0.post1": {
        "1.0a1",
        "1.0.0a1",
        "1.0b2",
        "1.0rc1",
        "1.0c1",
        "1.0.dev0",
        "1.0.0.dev1",
        "1.0a1.dev1",
        "1.0-alpha1",
        "1.0_rc_1",
        "1.0rc1.post1",
        "1.0rc1+x",
    },
    "<2": {"2.0.dev0", "2.0rc1"},
    "<2.0.post1": {"2.0.dev0", "2.0rc1"},
    ">1": {"1.0.post1", "1.0.0.post1", "1.0.post1.dev1", "1.0-1", "1.0.post1+local", "1.0.POST1"},
    ">1.0": {"1.0.0.post1"},
    ">1.0.0": {"1.0.post1", "1.0.post1.dev1", "1.0-1", "1.0.post1+local", "1.0.POST1"},
    ">1.0.dev0": {"1.0.post1", "1.0.0.post1", "1.0.post1.dev1", "1.0-1", "1.0.post1+local", "1.0.POST1"},
    ">2.0": {"2.0.0.post1"},
    ">2": {"2.0.post1", "2.0.0.post1"},
    ">1.0,<=2.0,!=1.1": {"1.0.0.post1"},
}


@pytest.fixture(scope="module")
def specifiers():
    pytest.importorskip("packaging", minversion="26.0")  # 26.0 changed pre-release and exclusive-operator rules
    return pytest.importorskip("packaging.specifiers")


def mismatches(specifiers, spec):
    reference = specifiers.SpecifierSet(spec, prereleases=True)
    requirement = parse_requirement("project" + spec)
    return {version for version in VERSIONS if reference.contains(version) != requirement.contains(version)}


def test_grid_is_big_enough():
    assert len(SPECS) * len(VERSIONS) > 5000


def spec_group(spec):
    if "," in spec:
        return "combined"
    if spec.endswith(".*"):
        return spec[:2] + "wildcard"
    return next(op for op in ("===", "~=", "==", "!=", "<=", ">=", "<", ">") if spec.startswith(op))


GROUPS = sorted({spec_group(spec) for spec in SPECS})


@pytest.mark.parametrize("group", GROUPS)
def test_specifier_grid_matches_packaging(specifiers, group):
    unexpected = {}
    for spec in SPECS:
        if spec_group(spec) == group:
            different = mismatches(specifiers, spec) - KNOWN_DIFFERENCES.get(spec, set())
            if different:
                unexpected[spec] = sorted(different)
    assert unexpected == {}


@pytest.mark.xfail(strict=True, reason="engine disagrees with packaging 26.3 on the versions in KNOWN_DIFFERENCES")
def test_specifier_known_differences(specifiers):
    assert {spec: sorted(mismatches(specifiers, spec)) for spec in KNOWN_DIFFERENCES if mismatches(specifiers, spec)} == {}


@pytest.mark.parametrize("requirement, version", [("requests<2", "2.0rc1"), ("requests<1.0", "1.0.0a1"), ("django<4.2.0", "4.2rc1")])
def test_less_than_excludes_prereleases_of_the_same_release_written_longer_or_shorter(requirement, version):
    assert parse_requirement(requirement).contains(version) is False


@pytest.mark.parametrize("requirement, version", [("pkg>1", "1.0.post1"), ("pkg>2.0", "2.0.0.post1")])
def test_greater_than_excludes_post_releases_of_the_same_release_written_longer_or_shorter(requirement, version):
    assert parse_requirement(requirement).contains(version) is False


@pytest.mark.xfail(
    strict=True, reason="packaging 26 (vendored by pip 26.3): '<1.0.post1' allows 1.0rc1 and '>1.0.dev0' allows 1.0.post1; the engine refuses both"
)
@pytest.mark.parametrize("requirement, version", [("pkg<1.0.post1", "1.0rc1"), ("pkg>1.0.dev0", "1.0.post1")])
def test_exclusive_operators_carve_out_only_the_versions_own_family(requirement, version):
    assert parse_requirement(requirement).contains(version) is True


# --- hand-checked values (no packaging needed) ----------------------------------------------------


CONTAINS = [
    ("==1.0", "1.0.0", True),
    ("==1.0", "1.0+local", True),
    ("==1.0+local", "1.0", False),
    ("==1.0+local", "1.0+LOCAL", True),
    ("!=1.0", "1.0+local", False),
    ("==1.*", "1.9rc1", True),
    ("==1.0.*", "1.0.post1", True),
    ("==1.0.*", "1", True),
    ("==1.0.*", "1.1", False),
    ("!=1.*", "2.0", True),
    ("==1!1.*", "1.5", False),
    ("~=1.4.5", "1.4.9", True),
    ("~=1.4.5", "1.5.0", False),
    ("~=1.4.5", "1.4.4", False),
    ("~=2.2", "2.9", True),
    ("~=2.2", "3.0", False),
    ("~=1!2.2", "1!2.5", True),
    ("~=1!2.2", "2.5", False),
    ("<2.0", "2.0rc1", False),
    ("<2.0rc2", "2.0rc1", True),
    ("<2.0", "1.9", True),
    (">1.0", "1.0.post1", False),
    (">1.0.post1", "1.0.post2", True),
    (">1.0", "1.0+local", False),
    (">=1.0", "1.0rc1", False),
    (">=1.0rc1", "1.0rc1", True),
    ("<=1.0", "1.0+local", True),
    ("===1.0", "1.0", True),
    ("===1.0", "1.0.0", False),
    ("===1.0", " 1.0 ", True),
    ("==1.0", "not-a-version", False),
    ("!=1.0", "not-a-version", False),
]


def test_specifier_contains():
    got = []
    for spec, version, _expected in CONTAINS:
        operator = next(op for op in ("===", "~=", "==", "!=", "<=", ">=", "<", ">") if spec.startswith(op))
        got.append((spec, version, Specifier(operator, spec[len(operator) :]).contains(version)))
    assert got == CONTAINS


PARSED_VERSIONS = [
    ("1.0", (0, (1, 0), None, None, None, None)),
    ("v1.0", (0, (1, 0), None, None, None, None)),
    ("2!1.0rc1", (2, (1, 0), (2, 1), None, None, None)),
    ("1.0alpha", (0, (1, 0), (0, 0), None, None, None)),
    ("1.0-preview.2", (0, (1, 0), (2, 2), None, None, None)),
    ("1.0.post", (0, (1, 0), None, 0, None, None)),
    ("1.0-3", (0, (1, 0), None, 3, None, None)),
    ("1.0.r4", (0, (1, 0), None, 4, None, None)),
    ("1.0.dev", (0, (1, 0), None, None, 0, None)),
    ("1.0a2.post3.dev4+Ubuntu.1", (0, (1, 0), (0, 2), 3, 4, "Ubuntu.1")),
]


def test_parse_version():
    got = []
    for text, _expected in PARSED_VERSIONS:
        version = parse_version(text)
        got.append((text, None if version is None else (version.epoch, version.release, version.pre, version.post, version.dev, version.local)))
    assert got == PARSED_VERSIONS


def test_parse_version_rejects():
    texts = ["", "abc", "1.0-foo", "1..0", "1.0+", "1.0+local+again", "=1.0", "1.0 extra"]
    assert {text: parse_version(text) for text in texts} == dict.fromkeys(texts)


ORDERS = [
    ["1.0.dev0", "1.0a1.dev1", "1.0a1", "1.0b1", "1.0rc1", "1.0", "1.0.post1.dev1", "1.0.post1", "1.0.post1+a", "1.0.post1+1", "1.0.1"],
    ["0.9", "1!0.1"],
    ["1.0+abc", "1.0+abc.1", "1.0+1", "1.0+2", "1.0+10"],
]


def test_version_order():
    for versions in ORDERS:
        keys = [parse_version(text).key() for text in versions]
        assert keys == sorted(keys), versions
        assert len(set(keys)) == len(keys), versions


def test_version_key_ignores_trailing_zeros():
    assert parse_version("1.0.0").key() == parse_version("1").key()
    assert parse_version("0.0").key() == parse_version("0").key()


# --- requirements ---------------------------------------------------------------------------------


REQUIREMENTS = [
    ("PyYAML", "PyYAML", "pyyaml", ()),
    ("zope.interface", "zope.interface", "zope-interface", ()),
    ("typing_extensions", "typing_extensions", "typing-extensions", ()),
    ("requests<2.30", "requests", "requests", (("<", "2.30"),)),
    ("numpy>=1.24,!=1.25.*", "numpy", "numpy", ((">=", "1.24"), ("!=", "1.25.*"))),
    ("  Django >= 4.2 , < 5  ", "Django", "django", ((">=", "4.2"), ("<", "5"))),
    ("requests[security]>=2.0", "requests", "requests", ((">=", "2.0"),)),
    ("requests (>=2.0)", "requests", "requests", ((">=", "2.0"),)),
    ("requests>=2.0; python_version < '3.8'", "requests", "requests", ((">=", "2.0"),)),
    ("foo-1.0", "foo-1.0", "foo-1-0", ()),
    ("pkg===weird-1", "pkg", "pkg", (("===", "weird-1"),)),
]


def test_parse_requirement():
    got = []
    for text, _name, _normalized, _specs in REQUIREMENTS:
        requirement = parse_requirement(text)
        assert requirement.text == text
        got.append((text, requirement.name, requirement.normalized, tuple((spec.operator, spec.text) for spec in requirement.specifiers)))
    assert got == REQUIREMENTS


def test_parse_requirement_matches_packaging():
    requirements = pytest.importorskip("packaging.requirements")
    utils = pytest.importorskip("packaging.utils")
    for text in ["PyYAML", "requests<2.30", "numpy>=1.24,!=1.25.*", "Django>=4.2,<5", "requests[security]>=2.0", "a.b_c-d~=1.2"]:
        reference = requirements.Requirement(text)
        ours = parse_requirement(text)
        assert ours.name == reference.name
        assert ours.normalized == utils.canonicalize_name(reference.name)
        assert sorted(spec.operator + spec.text for spec in ours.specifiers) == sorted(str(spec) for spec in reference.specifier)


def test_requirement_without_specifier_contains_every_version():
    requirement = parse_requirement("requests")
    assert requirement.contains("0.1") and requirement.contains("99.0rc1") and requirement.contains(None)
    assert parse_requirement("requests<2").contains(None) is True


BAD_REQUIREMENTS = [
    ("", "empty"),
    ("   ", "empty"),
    ("foo/bar", "path"),
    ("../foo", "path"),
    ("foo\\bar", "path"),
    ("foo\x00", "NUL"),
    ("requests @ https://example.invalid/r.whl", "path"),
    ("-foo", "not a project name"),
    ("requests<<2", "not a PEP 440 version"),
    ("requests=2", "not a version specifier"),
    ("requests>=abc", "not a PEP 440 version"),
    ("requests>=1.*", "'.*'"),
    ("requests~=1.0.*", "'.*'"),
    ("requests>=1.0,", "not a version specifier"),
    ("requests 2.0", "not a version specifier"),
]


def test_parse_requirement_rejects():
    wrong = []
    for text, fragment in BAD_REQUIREMENTS:
        try:
            parse_requirement(text, option="name")
        except InvalidValue as error:
            if error.option != "name" or not str(error).startswith("name: ") or fragment not in str(error):
                wrong.append((text, str(error)))
        else:
            wrong.append((text, "accepted"))
    assert wrong == []


def test_parse_requirement_rejects_non_strings():
    for value in (None, 3, ["requests"]):
        with pytest.raises(InvalidValue, match="empty"):
            parse_requirement(value)
