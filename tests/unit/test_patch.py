"""Merge patch and JSON patch follow RFC 7386 and RFC 6902 to the letter, atomically, without side effects."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.patch import (
    JSON,
    JSON_PATCH,
    MAX_JSON_PATCH_OPERATIONS,
    MERGE_PATCH,
    PatchError,
    apply_patch,
    create_merge_patch,
    decode_patch,
    json_equal,
    json_patch,
    merge_patch,
    parse_pointer,
)

# --- JSON merge patch ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "patch", "result"),
    # RFC 7386 Appendix A, every row, in order.
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_matches_rfc7386_appendix_a(original: JSON, patch: JSON, result: JSON) -> None:
    assert merge_patch(original, patch) == result


def test_merge_patch_keeps_nulls_inside_arrays() -> None:
    assert merge_patch({}, {"a": [None, {"b": None}]}) == {"a": [None, {"b": None}]}


def test_merge_patch_changes_a_deployment_spec_and_removes_a_label() -> None:
    deployment: JSON = {
        "metadata": {"name": "web", "labels": {"app": "web", "track": "canary"}},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}},
    }
    patch: JSON = {"metadata": {"labels": {"track": None}}, "spec": {"replicas": 3}}
    assert merge_patch(deployment, patch) == {
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}},
    }


@pytest.mark.parametrize(
    ("original", "modified", "patch"),
    [
        ({"a": 1, "b": 2}, {"a": 1, "b": 3}, {"b": 3}),
        ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
        ({"a": {"x": 1, "y": 2}}, {"a": {"x": 1}}, {"a": {"y": None}}),
        ({"a": [1, 2]}, {"a": [1]}, {"a": [1]}),
        ({"a": 1}, {"a": 1}, {}),
        ({"a": True}, {"a": 1}, {"a": 1}),
        ([1], {"a": 1}, {"a": 1}),
    ],
)
def test_create_merge_patch_states_only_the_differences(original: JSON, modified: JSON, patch: JSON) -> None:
    assert create_merge_patch(original, modified) == patch
    assert json_equal(merge_patch(original, create_merge_patch(original, modified)), modified)


# --- JSON patch: RFC 6902 Appendix A ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "doc", "patch", "result"),
    [
        (
            "A.1",
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux"}],
            {"baz": "qux", "foo": "bar"},
        ),
        (
            "A.2",
            {"foo": ["bar", "baz"]},
            [{"op": "add", "path": "/foo/1", "value": "qux"}],
            {"foo": ["bar", "qux", "baz"]},
        ),
        ("A.3", {"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
        (
            "A.4",
            {"foo": ["bar", "qux", "baz"]},
            [{"op": "remove", "path": "/foo/1"}],
            {"foo": ["bar", "baz"]},
        ),
        (
            "A.5",
            {"baz": "qux", "foo": "bar"},
            [{"op": "replace", "path": "/baz", "value": "boo"}],
            {"baz": "boo", "foo": "bar"},
        ),
        (
            "A.6",
            {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
            [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
            {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        ),
        (
            "A.7",
            {"foo": ["all", "grass", "cows", "eat"]},
            [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
            {"foo": ["all", "cows", "eat", "grass"]},
        ),
        (
            "A.8",
            {"baz": "qux", "foo": ["a", 2, "c"]},
            [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
            {"baz": "qux", "foo": ["a", 2, "c"]},
        ),
        (
            "A.10",
            {"foo": "bar"},
            [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
            {"foo": "bar", "child": {"grandchild": {}}},
        ),
        (
            "A.11",
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
            {"foo": "bar", "baz": "qux"},
        ),
        ("A.14", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
        (
            "A.16",
            {"foo": ["bar"]},
            [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
            {"foo": ["bar", ["abc", "def"]]},
        ),
    ],
)
def test_json_patch_matches_rfc6902_appendix_a(section: str, doc: JSON, patch: JSON, result: JSON) -> None:
    assert json_patch(doc, patch) == result


@pytest.mark.parametrize(
    ("section", "doc", "patch", "message"),
    [
        (
            "A.9",
            {"baz": "qux"},
            [{"op": "test", "path": "/baz", "value": "bar"}],
            "jsonpatch op 0 (test /baz): test failed",
        ),
        (
            "A.12",
            {"foo": "bar"},
            [{"op": "add", "path": "/baz/bat", "value": "qux"}],
            "jsonpatch op 0 (add /baz/bat): path not found",
        ),
        (
            "A.15",
            {"/": 9, "~1": 10},
            [{"op": "test", "path": "/~01", "value": "10"}],
            "jsonpatch op 0 (test /~01): test failed",
        ),
    ],
)
def test_json_patch_refuses_rfc6902_appendix_a_errors(
    section: str, doc: JSON, patch: JSON, message: str
) -> None:
    with pytest.raises(PatchError) as info:
        json_patch(doc, patch)
    assert str(info.value) == message
    assert info.value.code == 422


def test_json_patch_document_with_a_repeated_member_is_refused() -> None:
    # RFC 6902 A.13: "op" given twice must be reported, not resolved by whichever came last.
    with pytest.raises(PatchError) as info:
        decode_patch('[{"op": "add", "path": "/baz", "value": "qux", "op": "remove"}]')
    assert str(info.value) == "error decoding patch: duplicate member 'op' in a JSON object"
    assert info.value.code == 400


# --- JSON patch: the operations in detail ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "patch", "result"),
    [
        ({"a": 1}, [{"op": "add", "path": "", "value": [1]}], [1]),
        ({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}),
        ({"a": 1}, [{"op": "add", "path": "/a", "value": 2}], {"a": 2}),
        ({"a": [1, 2]}, [{"op": "add", "path": "/a/2", "value": 3}], {"a": [1, 2, 3]}),
        ({"a": [1, 2]}, [{"op": "add", "path": "/a/0", "value": 0}], {"a": [0, 1, 2]}),
        ({"a": [1, 2]}, [{"op": "replace", "path": "/a/1", "value": 5}], {"a": [1, 5]}),
        ({"a": None}, [{"op": "replace", "path": "/a", "value": None}], {"a": None}),
        ({"a": 1}, [{"op": "add", "path": "/b", "value": None}], {"a": 1, "b": None}),
        ({"a/b": 1, "c~d": 2}, [{"op": "remove", "path": "/a~1b"}, {"op": "remove", "path": "/c~0d"}], {}),
        ({"": 1}, [{"op": "replace", "path": "/", "value": 2}], {"": 2}),
        ({"a": {"b": [1]}}, [{"op": "copy", "from": "/a/b", "path": "/c"}], {"a": {"b": [1]}, "c": [1]}),
        ({"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}], {"a": 1}),
        ({"a": 1}, [{"op": "copy", "from": "", "path": "/b"}], {"a": 1, "b": {"a": 1}}),
        ({"a": {"b": 1}}, [{"op": "move", "from": "/a/b", "path": "/a/c"}], {"a": {"c": 1}}),
        ({"a": [1, 2, 3]}, [{"op": "move", "from": "/a/0", "path": "/a/-"}], {"a": [2, 3, 1]}),
        ({"a": 1.0}, [{"op": "test", "path": "/a", "value": 1}], {"a": 1.0}),
        (
            {"a": {"x": [1, {"y": 2}]}},
            [{"op": "test", "path": "/a", "value": {"x": [1.0, {"y": 2}]}}],
            {"a": {"x": [1, {"y": 2}]}},
        ),
    ],
)
def test_json_patch_operations_follow_rfc6902(doc: JSON, patch: JSON, result: JSON) -> None:
    assert json_patch(doc, patch) == result


def test_replace_keeps_a_member_in_its_place() -> None:
    patched = json_patch({"a": 1, "b": 2, "c": 3}, [{"op": "replace", "path": "/b", "value": 9}])
    assert isinstance(patched, dict)
    assert list(patched) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("doc", "operation", "message"),
    [
        ({}, {"op": "remove", "path": "/a"}, "jsonpatch op 0 (remove /a): path not found"),
        (
            {"a": 1},
            {"op": "replace", "path": "/b", "value": 1},
            "jsonpatch op 0 (replace /b): path not found",
        ),
        ({"a": [1]}, {"op": "remove", "path": "/a/1"}, "jsonpatch op 0 (remove /a/1): path not found"),
        (
            {"a": [1]},
            {"op": "replace", "path": "/a/-", "value": 1},
            "jsonpatch op 0 (replace /a/-): path not found",
        ),
        ({"a": "s"}, {"op": "add", "path": "/a/b", "value": 1}, "jsonpatch op 0 (add /a/b): path not found"),
        (
            {"a": [1]},
            {"op": "add", "path": "/a/2", "value": 1},
            "jsonpatch op 0 (add /a/2): array index 2 is past the end of the array (length 1)",
        ),
        (
            {"a": [1]},
            {"op": "add", "path": "/a/01", "value": 1},
            "jsonpatch op 0 (add /a/01): invalid array index '01'",
        ),
        (
            {"a": [1]},
            {"op": "remove", "path": "/a/-1"},
            "jsonpatch op 0 (remove /a/-1): invalid array index '-1'",
        ),
        (
            {"a": [1]},
            {"op": "remove", "path": "/a/" + "9" * 5000},
            f"jsonpatch op 0 (remove /a/{'9' * 5000}): path not found",
        ),
        ({}, {"op": "remove", "path": ""}, "jsonpatch op 0 (remove ): cannot remove the whole document"),
        ({}, {"op": "add", "path": "/a"}, "jsonpatch op 0 (add /a): missing 'value'"),
        ({}, {"op": "test", "path": "/a"}, "jsonpatch op 0 (test /a): missing 'value'"),
        ({}, {"op": "add", "value": 1}, "jsonpatch op 0 (add): missing 'path'"),
        ({}, {"path": "/a", "value": 1}, "jsonpatch op 0 (/a): missing 'op'"),
        ({}, {"op": "merge", "path": "/a"}, "jsonpatch op 0 (merge /a): unknown operation 'merge'"),
        ({}, {"op": "add", "path": 5, "value": 1}, "jsonpatch op 0 (add): 'path' must be a string"),
        (
            {},
            {"op": "add", "path": "a", "value": 1},
            "jsonpatch op 0 (add a): invalid JSON pointer 'a': must be empty or start with '/'",
        ),
        (
            {},
            {"op": "add", "path": "/a~2", "value": 1},
            "jsonpatch op 0 (add /a~2): invalid JSON pointer '/a~2': '~' must be followed by '0' or '1'",
        ),
        ({"a": 1}, {"op": "move", "path": "/b"}, "jsonpatch op 0 (move /b): missing 'from'"),
        (
            {"a": 1},
            {"op": "copy", "from": "/x", "path": "/b"},
            "jsonpatch op 0 (copy /b): 'from' path /x not found",
        ),
        (
            {"a": {"b": 1}},
            {"op": "move", "from": "/a", "path": "/a/b/c"},
            "jsonpatch op 0 (move /a/b/c): cannot move /a into one of its own children",
        ),
        ({"a": True}, {"op": "test", "path": "/a", "value": 1}, "jsonpatch op 0 (test /a): test failed"),
        (
            {"a": [1, 2]},
            {"op": "test", "path": "/a", "value": [2, 1]},
            "jsonpatch op 0 (test /a): test failed",
        ),
    ],
)
def test_failing_json_patch_operation_is_named_in_the_error(doc: JSON, operation: JSON, message: str) -> None:
    with pytest.raises(PatchError) as info:
        json_patch(doc, [operation])
    assert str(info.value) == message
    assert (info.value.code, info.value.index) == (422, 0)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"op": "add"}, "error decoding patch: a JSON patch must be an array of operations"),
        (["add"], "error decoding patch: operation 0 is not a JSON object"),
    ],
)
def test_json_patch_that_is_not_an_array_of_objects_is_a_bad_request(patch: JSON, message: str) -> None:
    with pytest.raises(PatchError) as info:
        json_patch({}, patch)
    assert (str(info.value), info.value.code) == (message, 400)


def test_json_patch_is_atomic_when_a_later_operation_fails() -> None:
    doc: JSON = {"spec": {"template": {}}, "metadata": {"labels": {"app": "web"}}}
    before = copy.deepcopy(doc)
    patch: JSON = [
        {"op": "add", "path": "/metadata/labels/tier", "value": "frontend"},
        {"op": "remove", "path": "/metadata/labels/app"},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
    ]
    with pytest.raises(PatchError) as info:
        json_patch(doc, patch)
    assert str(info.value) == "jsonpatch op 2 (replace /spec/replicas): path not found"
    assert (info.value.index, info.value.op, info.value.path) == (2, "replace", "/spec/replicas")
    assert doc == before


@pytest.mark.parametrize(
    ("pointer", "tokens"),
    [
        ("", []),
        ("/", [""]),
        ("/foo", ["foo"]),
        ("/foo/0", ["foo", "0"]),
        ("/a~1b", ["a/b"]),
        ("/m~0n", ["m~n"]),
        ("/~01", ["~1"]),
        ("/ ", [" "]),
        ("/c%d", ["c%d"]),
    ],
)
def test_json_pointer_unescapes_tokens_as_rfc6901_says(pointer: str, tokens: list[str]) -> None:
    assert parse_pointer(pointer) == tokens


# --- apply_patch: the API server's dispatch --------------------------------------------------------------


def test_apply_patch_dispatches_on_content_type() -> None:
    doc: JSON = {"spec": {"replicas": 1, "paused": True}}
    assert apply_patch(doc, {"spec": {"paused": None}}, MERGE_PATCH) == {"spec": {"replicas": 1}}
    json_ops: JSON = [{"op": "replace", "path": "/spec/replicas", "value": 2}]
    assert apply_patch(doc, json_ops, JSON_PATCH) == {"spec": {"replicas": 2, "paused": True}}


def test_apply_patch_decodes_a_raw_body_and_ignores_content_type_parameters() -> None:
    patched = apply_patch({"a": 1}, b'{"a": null, "b": 2}', "application/merge-patch+json; charset=utf-8")
    assert patched == {"b": 2}


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", ""])
def test_apply_patch_refuses_unsupported_patch_types_with_415(content_type: str) -> None:
    with pytest.raises(PatchError) as info:
        apply_patch({}, {}, content_type)
    assert info.value.code == 415
    assert str(info.value) == (
        f"unsupported patch type {content_type!r}: the body of the request was in an unknown format - "
        "accepted media types include: application/json-patch+json, application/merge-patch+json, "
        "application/strategic-merge-patch+json"
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"{not json", MERGE_PATCH), (b"[NaN]", JSON_PATCH), (b"null", MERGE_PATCH), (b"[1]", MERGE_PATCH)],
)
def test_apply_patch_refuses_an_undecodable_or_non_object_body_with_400(
    body: bytes, content_type: str
) -> None:
    with pytest.raises(PatchError) as info:
        apply_patch({"a": 1}, body, content_type)
    assert info.value.code == 400


def test_apply_patch_refuses_too_many_operations_with_413() -> None:
    operations: JSON = [{"op": "test", "path": "", "value": {}}] * (MAX_JSON_PATCH_OPERATIONS + 1)
    with pytest.raises(PatchError) as info:
        apply_patch({}, operations, JSON_PATCH)
    assert info.value.code == 413
    assert str(info.value) == "The allowed maximum operations in a JSON patch is 10000, got 10001"


# --- properties --------------------------------------------------------------------------------------------

_scalars = st.one_of(
    st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5)
)
_keys = st.text(alphabet="ab/~0c", max_size=3)
json_values = st.recursive(
    st.none() | _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)
# Values a merge patch can produce: no object member is null (null means "remove"); arrays may hold nulls.
null_free_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner | st.none(), max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)
json_objects = st.dictionaries(_keys, json_values, max_size=5)


def _pointers(value: JSON, prefix: str = "") -> list[str]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _pointers(child, f"{prefix}/{key.replace('~', '~0').replace('/', '~1')}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _pointers(child, f"{prefix}/{index}")
    return found


@st.composite
def docs_and_json_patches(draw: st.DrawFn) -> tuple[JSON, list[JSON]]:
    """A document and operations aimed mostly at paths it has, so that some apply and some fail."""
    doc = draw(json_objects)
    paths = st.sampled_from(_pointers(doc)) | st.sampled_from(["/new", "/a/-", "/0", "/missing/x"])
    operation = st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test"]),
            "path": paths,
            "from": paths,
            "value": json_values,
        }
    )
    return doc, draw(st.lists(operation, max_size=5))


@given(original=json_objects, modified=null_free_values)
def test_merging_the_diff_of_two_documents_yields_the_second(original: JSON, modified: JSON) -> None:
    assert json_equal(merge_patch(original, create_merge_patch(original, modified)), modified)


@given(target=json_values, patch=json_values)
def test_merge_patch_is_idempotent(target: JSON, patch: JSON) -> None:
    once = merge_patch(target, patch)
    assert json_equal(merge_patch(once, patch), once)


@given(target=json_values, patch=json_values)
def test_merge_patch_neither_mutates_nor_shares_its_inputs(target: JSON, patch: JSON) -> None:
    target_before, patch_before = copy.deepcopy(target), copy.deepcopy(patch)
    result = merge_patch(target, patch)
    assert (repr(target), repr(patch)) == (repr(target_before), repr(patch_before))
    _scramble(result)
    assert (repr(target), repr(patch)) == (repr(target_before), repr(patch_before))


@given(original=json_values, modified=json_values)
def test_create_merge_patch_does_not_mutate_its_inputs(original: JSON, modified: JSON) -> None:
    original_before, modified_before = copy.deepcopy(original), copy.deepcopy(modified)
    _scramble(create_merge_patch(original, modified))
    assert (repr(original), repr(modified)) == (repr(original_before), repr(modified_before))


@given(case=docs_and_json_patches())
def test_json_patch_neither_mutates_nor_shares_its_inputs(case: tuple[JSON, list[JSON]]) -> None:
    doc, operations = case
    doc_before, operations_before = copy.deepcopy(doc), copy.deepcopy(operations)
    try:
        result = json_patch(doc, operations)
    except PatchError as err:
        # Atomic: the failure names an operation of the patch, and the document is untouched.
        assert err.index is not None
        assert 0 <= err.index < len(operations)
    else:
        _scramble(result)
    assert (repr(doc), repr(operations)) == (repr(doc_before), repr(operations_before))


@given(case=docs_and_json_patches())
def test_json_patch_fails_as_its_first_failing_prefix_does(case: tuple[JSON, list[JSON]]) -> None:
    doc, operations = case
    try:
        json_patch(doc, operations)
    except PatchError as err:
        assert err.index is not None
        json_patch(doc, operations[: err.index])  # everything before the failing operation applies
        with pytest.raises(PatchError):
            json_patch(doc, operations[: err.index + 1])


def _scramble(value: Any) -> None:
    """Mutate every container in ``value``, so any structure it shares with an input would show."""
    if isinstance(value, dict):
        for child in list(value.values()):
            _scramble(child)
        value["scrambled"] = True
    elif isinstance(value, list):
        for child in value:
            _scramble(child)
        value.append("scrambled")
