from __future__ import annotations

import re

from agentls.mcp.names import assign_names, exposed_names

VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def test_valid_names_are_kept_exactly() -> None:
    names = exposed_names([("github", "search_issues"), ("db", "query")])
    assert names[("github", "search_issues")] == "mcp__github__search_issues"
    assert names[("db", "query")] == "mcp__db__query"


def test_invalid_characters_and_long_names_become_valid() -> None:
    pairs = [("my server", "files.read"), ("s", "x" * 100), ("s", "x" * 99 + "y")]
    names = exposed_names(pairs)
    assert all(VALID.match(name) for name in names.values())
    assert names[("my server", "files.read")].startswith("mcp__my_server__files_read_")
    assert len(set(names.values())) == len(pairs)


def test_names_that_clean_to_the_same_text_stay_apart() -> None:
    names = exposed_names([("s", "a.b"), ("s", "a b"), ("s", "a_b")])
    assert names[("s", "a_b")] == "mcp__s__a_b"
    assert len(set(names.values())) == 3


def test_joined_names_that_coincide_stay_apart() -> None:
    names = exposed_names([("a__b", "c"), ("a", "b__c")])
    assert len(set(names.values())) == 2
    assert all(VALID.match(name) for name in names.values())


def test_a_name_does_not_depend_on_the_other_tools() -> None:
    alone = exposed_names([("s", "files.read")])
    crowded = exposed_names([("s", "files.read"), ("s", "files_read"), ("t", "x")])
    assert alone[("s", "files.read")] == crowded[("s", "files.read")]
    assert exposed_names([("s", "files.read")]) == alone


def test_a_given_name_is_never_handed_to_another_pair() -> None:
    first = assign_names([("a__b", "c")], ())
    assert first == {("a__b", "c"): "mcp__a__b__c"}
    # Together from the start, ("a", "b__c") sorts first and takes the plain name ...
    assert exposed_names([("a__b", "c"), ("a", "b__c")])[("a", "b__c")] == "mcp__a__b__c"
    # ... but once the name is given, a newcomer gets a hashed name of its own.
    later = assign_names([("a", "b__c")], first.values())
    hashed = later[("a", "b__c")]
    assert hashed.startswith("mcp__a__b__c_")
    assert VALID.match(hashed)
    assert assign_names([("a", "b__c")], ["mcp__a__b__c", "unrelated"]) == later
