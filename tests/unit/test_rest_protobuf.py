"""Kubernetes' protobuf bodies decoded into the JSON dict the same object would be: the wire reader, the
schema table, hand-built messages for each rule, bodies kubectl 1.37 sent, and malformed bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.apiserver.rest.params import RestOptions, decode_delete_options, decode_object
from services.apiserver.rest.protobuf import MAGIC, ProtobufError, decode_body, iter_fields, read_varint
from services.apiserver.rest.protoschema import KINDS, MESSAGES, SCALARS, WELL_KNOWN, parse_schema
from shared.errors import ApiError

PROTOBUF = "application/vnd.kubernetes.protobuf"


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative numbers as 64-bit two's complement, as Go writes them
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def num(field: int, value: int) -> bytes:
    return varint(field << 3) + varint(value)


def ld(field: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(field << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes, encoding: str = "") -> bytes:
    unknown = ld(1, ld(1, api_version) + ld(2, kind)) + ld(2, raw)
    return MAGIC + unknown + (ld(3, encoding) if encoding else b"")


def meta(name: str, namespace: str = "") -> bytes:
    # What gogo writes for ObjectMeta: every non-pointer string, even empty, and an empty Time.
    return (
        ld(1, name)
        + ld(2, "")
        + ld(3, namespace)
        + ld(4, "")
        + ld(5, "")
        + ld(6, "")
        + num(7, 0)
        + ld(8, b"")
    )


def decode(api_version: str, kind: str, raw: bytes) -> dict[str, Any]:
    return decode_body(envelope(api_version, kind, raw)).object


# --- the wire reader ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b"\x00", 0),
        (b"\x01", 1),
        (b"\x7f", 127),
        (b"\x80\x01", 128),
        (b"\xac\x02", 300),
        (b"\xff" * 9 + b"\x01", (1 << 64) - 1),
    ],
)
def test_varints_read_little_endian_groups_of_seven_bits(data: bytes, value: int) -> None:
    assert read_varint(data, 0) == (value, len(data))


@pytest.mark.parametrize(("data", "problem"), [(b"\x80", "truncated"), (b"\xff" * 11, "longer than 10")])
def test_bad_varints_are_refused(data: bytes, problem: str) -> None:
    with pytest.raises(ProtobufError, match=problem):
        read_varint(data, 0)


def test_fields_of_every_wire_type_are_read() -> None:
    data = num(1, 150) + ld(2, "hi") + bytes([3 << 3 | 5]) + (7).to_bytes(4, "little")
    data += bytes([4 << 3 | 1]) + (9).to_bytes(8, "little")
    assert list(iter_fields(data)) == [(1, 0, 150), (2, 2, b"hi"), (3, 5, 7), (4, 1, 9)]


# --- the schema table ----------------------------------------------------------------------------------


def test_schema_grammar_reads_numbers_names_and_flags() -> None:
    parsed = parse_schema(
        "Thing = 1 name s, 2 replicas *i, 3 items []Other,\n    4 labels {}s, 5 source ^Other"
    )
    fields = parsed["Thing"]
    assert (fields[1].json, fields[1].type, fields[1].keep_zero) == ("name", "s", False)
    assert (fields[2].json, fields[2].keep_zero) == ("replicas", True)
    assert (fields[3].repeated, fields[3].type, fields[3].is_message) == (True, "Other", True)
    assert (fields[4].map, fields[4].type) == (True, "s")
    assert (fields[5].inline, fields[5].type) == (True, "Other")


def test_every_field_type_of_the_schema_is_known() -> None:
    for name, fields in MESSAGES.items():
        for number, spec in fields.items():
            assert spec.type in MESSAGES or spec.type in SCALARS | WELL_KNOWN, (name, number, spec)
        json_names = [spec.json for spec in fields.values() if not spec.inline]
        assert len(json_names) == len(set(json_names)), name
    assert set(KINDS.values()) <= set(MESSAGES)


def test_the_schema_has_no_cycles_so_nesting_depth_is_bounded() -> None:
    def depth(name: str, path: tuple[str, ...]) -> int:
        assert name not in path, f"cycle through {name}"
        children = [spec.type for spec in MESSAGES[name].values() if spec.type in MESSAGES]
        return 1 + max((depth(child, (*path, name)) for child in children), default=0)

    assert max(depth(name, ()) for name in KINDS.values()) < 20


@pytest.mark.parametrize(
    ("message", "number", "json_name"),
    [
        ("ObjectMeta", 17, "managedFields"),
        ("DeploymentSpec", 9, "progressDeadlineSeconds"),
        ("PodSpec", 2, "containers"),
        ("PodSpec", 24, "priorityClassName"),
        ("Container", 8, "resources"),
        ("ServiceSpec", 3, "clusterIP"),
        ("ServicePort", 4, "targetPort"),
        ("EndpointSlice", 4, "addressType"),
        ("LeaseSpec", 4, "renewTime"),
        ("NodeSpec", 4, "unschedulable"),
    ],
)
def test_field_numbers_match_kubernetes(message: str, number: int, json_name: str) -> None:
    assert MESSAGES[message][number].json == json_name


# --- hand-built messages: Go's JSON shape ----------------------------------------------------------


def test_empty_strings_zero_numbers_and_empty_times_are_dropped_as_omitempty_drops_them() -> None:
    obj = decode("v1", "Namespace", ld(1, meta("ns")) + ld(2, b"") + ld(3, b""))
    assert obj == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "ns"},
        "spec": {},
        "status": {},
    }


def test_pointer_and_required_zero_values_are_kept() -> None:
    spec = num(1, 0) + num(5, 0) + num(6, 0) + num(7, 0)  # replicas, minReadySeconds, history, paused
    obj = decode("apps/v1", "Deployment", ld(1, meta("d", "ns")) + ld(2, spec))
    assert obj["spec"] == {"replicas": 0, "revisionHistoryLimit": 0}
    port = ld(6, ld(1, "") + num(3, 0))  # a container port of 0 is sent, a name of "" is not
    pod = decode("v1", "Pod", ld(2, ld(2, ld(1, "c") + port)))
    assert pod["spec"]["containers"] == [{"name": "c", "ports": [{"containerPort": 0}]}]


def test_false_is_dropped_unless_the_field_is_a_pointer() -> None:
    spec = (
        ld(2, ld(1, "c")) + num(11, 0) + num(21, 0)
    )  # hostNetwork false, automountServiceAccountToken false
    assert decode("v1", "Pod", ld(2, spec))["spec"] == {
        "containers": [{"name": "c"}],
        "automountServiceAccountToken": False,
    }


def test_negative_numbers_read_as_go_writes_them() -> None:
    context = num(2, -1) + num(6, 1000)  # runAsUser -1 (kept, a pointer), runAsGroup 1000
    spec = ld(2, ld(1, "c")) + ld(14, context)
    assert decode("v1", "Pod", ld(2, spec))["spec"]["securityContext"] == {
        "runAsUser": -1,
        "runAsGroup": 1000,
    }


def test_times_are_rfc3339_and_micro_times_have_microseconds() -> None:
    created = ld(8, num(1, 1_700_000_000) + num(2, 123_456_789))
    renew = ld(4, num(1, 1_700_000_000) + num(2, 123_456_789))
    obj = decode("coordination.k8s.io/v1", "Lease", ld(1, ld(1, "l") + created) + ld(2, renew + num(2, 0)))
    assert obj["metadata"]["creationTimestamp"] == "2023-11-14T22:13:20Z"
    assert obj["spec"] == {"renewTime": "2023-11-14T22:13:20.123456Z", "leaseDurationSeconds": 0}


def test_go_zero_time_written_as_seconds_is_dropped() -> None:
    obj = decode("v1", "Namespace", ld(1, ld(1, "ns") + ld(8, num(1, -62135596800))))
    assert obj["metadata"] == {"name": "ns"}


def test_quantities_are_strings_in_a_map() -> None:
    requests = ld(2, ld(1, "cpu") + ld(2, ld(1, "100m"))) + ld(2, ld(1, "memory") + ld(2, ld(1, "64Mi")))
    container = ld(1, "c") + ld(8, requests)
    spec = decode("v1", "Pod", ld(2, ld(2, container)))["spec"]
    assert spec["containers"][0]["resources"] == {"requests": {"cpu": "100m", "memory": "64Mi"}}


@pytest.mark.parametrize(
    ("int_or_string", "expected"),
    [
        (num(1, 0) + num(2, 8080) + ld(3, ""), 8080),
        (num(1, 1) + num(2, 0) + ld(3, "http"), "http"),
        (num(1, 0) + num(2, 0) + ld(3, ""), None),  # unset: Go writes 0, which Kubernetes reads as unset
    ],
)
def test_int_or_string_is_an_int_or_a_string(int_or_string: bytes, expected: int | str | None) -> None:
    port = ld(1, "web") + num(3, 80) + ld(4, int_or_string)
    ports = decode("v1", "Service", ld(2, ld(1, port)))["spec"]["ports"]
    assert ports == [{"name": "web", "port": 80} | ({} if expected is None else {"targetPort": expected})]


def test_a_pointer_int_or_string_keeps_zero() -> None:
    rolling = ld(1, num(1, 0) + num(2, 0)) + ld(2, num(1, 1) + ld(3, "25%"))
    spec = decode("apps/v1", "Deployment", ld(2, ld(4, ld(1, "RollingUpdate") + ld(2, rolling))))["spec"]
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
    }


def test_inline_messages_merge_into_their_parent() -> None:
    volume = ld(1, "data") + ld(2, ld(2, ld(1, "Memory")))  # Volume{name, volumeSource{emptyDir{medium}}}
    probe = ld(1, ld(3, ld(1, num(1, 0) + num(2, 8080)))) + num(2, 5)  # handler{tcpSocket{port}}, delay
    container = ld(1, "c") + ld(11, probe)
    spec = decode("v1", "Pod", ld(2, ld(1, volume) + ld(2, container)))["spec"]
    assert spec["volumes"] == [{"name": "data", "emptyDir": {"medium": "Memory"}}]
    assert spec["containers"][0]["readinessProbe"] == {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 5}


def test_repeated_numbers_are_read_packed_or_not() -> None:
    unpacked = num(4, 1) + num(4, 2)
    packed = ld(4, varint(3) + varint(4))
    context = decode("v1", "Pod", ld(2, ld(14, unpacked + packed)))["spec"]["securityContext"]
    assert context == {"supplementalGroups": [1, 2, 3, 4]}


def test_managed_fields_carry_their_json_and_bytes_are_base64() -> None:
    entry = ld(1, "kubectl") + ld(2, "Apply") + ld(6, "FieldsV1") + ld(7, ld(1, '{"f:spec":{}}'))
    obj = decode("v1", "Namespace", ld(1, ld(1, "ns") + ld(17, entry)))
    assert obj["metadata"]["managedFields"] == [
        {"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}
    ]


def test_endpoint_slice_keeps_false_conditions_and_pointer_ports() -> None:
    endpoint = ld(1, "10.0.0.5") + ld(2, num(1, 0) + num(2, 1)) + ld(6, "worker-1")
    port = ld(1, "") + ld(2, "TCP") + num(3, 0)  # name "" and port 0 are pointers: sent, so kept
    obj = decode(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        ld(1, ld(1, "s")) + ld(2, endpoint) + ld(3, port) + ld(4, "IPv4"),
    )
    assert obj["addressType"] == "IPv4"
    assert obj["endpoints"] == [
        {"addresses": ["10.0.0.5"], "conditions": {"ready": False, "serving": True}, "nodeName": "worker-1"}
    ]
    assert obj["ports"] == [{"name": "", "protocol": "TCP", "port": 0}]


def test_node_taints_unschedulable_and_capacity() -> None:
    taint = ld(1, "dedicated") + ld(2, "") + ld(3, "NoSchedule")  # key and effect are required, value is not
    capacity = ld(1, ld(1, "cpu") + ld(2, ld(1, "4"))) + ld(1, ld(1, "pods") + ld(2, b""))
    obj = decode("v1", "Node", ld(1, ld(1, "n1")) + ld(2, num(4, 1) + ld(5, taint)) + ld(3, capacity))
    assert obj["spec"] == {"unschedulable": True, "taints": [{"key": "dedicated", "effect": "NoSchedule"}]}
    assert obj["status"] == {"capacity": {"cpu": "4", "pods": "0"}}


def test_unknown_field_numbers_are_skipped_and_reported() -> None:
    spec = num(1, 2) + num(99, 7) + ld(98, "future") + varint(97 << 3 | 5) + b"\x00" * 4
    decoded = decode_body(envelope("apps/v1", "Deployment", ld(2, spec) + num(50, 1)))
    assert decoded.object["spec"] == {"replicas": 2}
    assert decoded.skipped == [
        "Deployment.spec: unknown field number 99",
        "Deployment.spec: unknown field number 98",
        "Deployment.spec: unknown field number 97",
        "Deployment: unknown field number 50",
    ]


@pytest.mark.parametrize("validation", ["Strict", "Warn", "Ignore"])
def test_skipped_fields_are_no_warning_whatever_the_validation_as_in_kube_apiserver(validation: str) -> None:
    # kube-apiserver's protobuf decoder has no strict mode: fieldValidation does not apply to protobuf.
    options = RestOptions(field_validation=validation)
    body = envelope("v1", "Namespace", ld(1, ld(1, "ns") + num(60, 1)))
    assert decode_object(body, PROTOBUF, options)["metadata"] == {"name": "ns"}
    assert options.warnings.texts == []


def test_protobuf_delete_options_are_read() -> None:
    body = envelope("v1", "DeleteOptions", num(1, 0) + ld(4, "Foreground") + ld(5, "All"))
    assert decode_delete_options(body, PROTOBUF) == {
        "gracePeriodSeconds": 0,
        "propagationPolicy": "Foreground",
        "dryRun": ["All"],
    }


# --- malformed bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "does not start with"),
        (b'{"kind": "Namespace"}', "does not start with"),
        (MAGIC + b"\x0a\x05\x0a\x02v1", "longer than the bytes left"),
        (MAGIC + b"\x0a", "truncated varint"),
        (envelope("v1", "", b""), "names no kind"),
        (envelope("v1", "ConfigMap", b""), 'no kind "ConfigMap" is registered for version "v1"'),
        (envelope("v2", "Pod", b""), 'no kind "Pod" is registered for version "v2"'),
        (envelope("v1", "Pod", b"", encoding="gzip"), 'content encoding "gzip"'),
        (envelope("v1", "Namespace", num(1, 5)), "Namespace.metadata: varint where length-delimited"),
        (
            envelope("v1", "Namespace", ld(1, ld(1, b"\xff\xfe"))),
            "metadata.name: the string is not valid UTF-8",
        ),
        (
            envelope("apps/v1", "Deployment", ld(2, ld(1, "x"))),
            "spec.replicas: length-delimited where a varint",
        ),
        (envelope("v1", "Namespace", bytes([1 << 3 | 3])), "unsupported wire type 3"),
        (envelope("v1", "Namespace", b"\x00\x00"), "field number 0"),
        (envelope("v1", "Namespace", ld(1, ld(17, ld(7, ld(1, "{not json"))))), "fieldsV1 is not JSON"),
        (envelope("v1", "Namespace", ld(1, ld(8, num(1, 1 << 62)))), "time out of range"),
    ],
)
def test_malformed_bodies_are_a_400_with_the_reason(body: bytes, problem: str) -> None:
    with pytest.raises(ProtobufError, match=problem):
        decode_body(body)
    with pytest.raises(ApiError) as info:
        decode_object(body, PROTOBUF, RestOptions())
    assert info.value.code == 400
    assert info.value.reason == "BadRequest"
    assert info.value.message.startswith("error decoding protobuf body: ")


def test_random_garbage_never_escapes_as_anything_but_a_bad_request() -> None:
    seed = 12345
    for size in range(1, 300):
        seed = (seed * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        garbage = bytes((seed >> (8 * (i % 8)) ^ i * 31) & 0xFF for i in range(size))
        for body in (MAGIC + garbage, envelope("apps/v1", "Deployment", garbage)):
            try:
                decode_object(body, PROTOBUF, RestOptions(field_validation="Ignore"))
            except ApiError as error:
                assert error.code == 400


# --- bodies kubectl 1.37.1 sent ------------------------------------------------------------------------

# kubectl create namespace capns
NAMESPACE = bytes.fromhex(
    "6b3873000a0f0a02763112094e616d657370616365121d0a150a056361706e7312001a0022002a003200380042001200"
    "1a020a001a002200"
)
# kubectl create deployment web --image=nginx:1.25 --replicas=3 --port=8080 -n capns
DEPLOYMENT = bytes.fromhex(
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412c3010a240a0377656212001a056361706e732200"
    "2a003200380042005a0a0a036170701203776562128c010803120c0a0a0a0361707012037765621a720a1c0a0012001a"
    "0022002a003200380042005a0a0a036170701203776562125212340a056e67696e78120a6e67696e783a312e32352a00"
    "320b0a00100018903f22002a0042006a007200800100880100900100a201001a00320042004a00520058006000680082"
    "01008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200"
)
# kubectl create service clusterip websvc --tcp=80:8080 -n capns
SERVICE_CLUSTERIP = bytes.fromhex(
    "6b3873000a0d0a02763112075365727669636512770a2a0a0677656273766312001a056361706e7322002a0032003800"
    "42005a0d0a03617070120677656273766312450a1b0a0738302d38303830120354435018502207080010903f1a002800"
    "120d0a0361707012067765627376631a002209436c757374657249503a00420052005a00600068001a020a001a002200"
)
# kubectl create service nodeport np --tcp=80:8080 --node-port=30080 -n capns
SERVICE_NODEPORT = bytes.fromhex(
    "6b3873000a0d0a027631120753657276696365126c0a220a026e7012001a056361706e7322002a003200380042005a09"
    "0a0361707012026e7012420a1d0a0738302d38303830120354435018502207080010903f1a002880eb0112090a036170"
    "7012026e701a0022084e6f6465506f72743a00420052005a00600068001a020a001a002200"
)
# kubectl debug pod1 --copy-to=pod1-copy --image=busybox:1.36 --container=pod1 -n capns
DEBUG_COPY_POD = bytes.fromhex(
    "6b3873000a090a0276311203506f641289030a1e0a09706f64312d636f707912001a056361706e7322002a0032003800"
    "420012d10212780a04706f6431120c62757379626f783a312e33362205736c656570220231302a00320d0a0010001850"
    "22035443502a003a060a015812013142006a142f6465762f7465726d696e6174696f6e2d6c6f677206416c776179737a"
    "0e0a0c0a0a5359535f505452414345800100880100900100a2010446696c651a06416c77617973201e320c436c757374"
    "6572466972737442004a00520058006000680072008201008a01009a011164656661756c742d7363686564756c6572b2"
    "01360a1c6e6f64652e6b756265726e657465732e696f2f6e6f742d726561647912064578697374731a0022094e6f4578"
    "656375746528ac02b201380a1e6e6f64652e6b756265726e657465732e696f2f756e726561636861626c651206457869"
    "7374731a0022094e6f4578656375746528ac02c20100c80100d80101f00101fa0114507265656d70744c6f7765725072"
    "696f726974791a130a001a0022002a0032004a005a0072008801001a002200"
)
# kubectl debug node/nodeq --image=busybox -n default
DEBUG_NODE_POD = bytes.fromhex(
    "6b3873000a090a0276311203506f641284020a580a196e6f64652d64656275676765722d6e6f6465712d32776b676612"
    "001a0022002a003200380042005a2d0a1c6170702e6b756265726e657465732e696f2f6d616e616765642d6279120d6b"
    "75626563746c2d64656275671292010a120a09686f73742d726f6f7412050a030a012f12450a08646562756767657212"
    "0762757379626f782a0042004a180a09686f73742d726f6f7410001a052f686f7374220032006a007200800100880100"
    "900100a2010446696c651a054e65766572320042004a0052056e6f6465715801600168018201008a01009a0100b2010e"
    "0a0012064578697374731a002200c201001a130a001a0022002a0032004a005a0072008801001a002200"
)
# kubectl drain nodeq --ignore-daemonsets --force --timeout=3s --disable-eviction --grace-period=7
DELETE_OPTIONS = bytes.fromhex("6b3873000a130a027631120d44656c6574654f7074696f6e73120208071a002200")


# What ``kubectl … --dry-run=client -o json`` printed for the same commands: the JSON kubectl would send.
_META = {"name": "web", "namespace": "capns", "labels": {"app": "web"}}
_CONTAINER = {"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 8080}], "resources": {}}
KUBECTL_JSON: dict[str, dict[str, Any]] = {
    "namespace": {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": "capns"},
        "spec": {},
        "status": {},
    },
    "deployment": {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": _META,
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [_CONTAINER]}},
            "strategy": {},
        },
        "status": {},
    },
    "service clusterip": {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": "websvc", "namespace": "capns", "labels": {"app": "websvc"}},
        "spec": {
            "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
            "selector": {"app": "websvc"},
            "type": "ClusterIP",
        },
        "status": {"loadBalancer": {}},
    },
    "service nodeport": {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": "np", "namespace": "capns", "labels": {"app": "np"}},
        "spec": {
            "ports": [
                {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080}
            ],
            "selector": {"app": "np"},
            "type": "NodePort",
        },
        "status": {"loadBalancer": {}},
    },
}


@pytest.mark.parametrize(
    ("body", "command"),
    [
        (NAMESPACE, "namespace"),
        (DEPLOYMENT, "deployment"),
        (SERVICE_CLUSTERIP, "service clusterip"),
        (SERVICE_NODEPORT, "service nodeport"),
    ],
)
def test_kubectl_generator_bodies_decode_to_the_json_kubectl_prints(body: bytes, command: str) -> None:
    decoded = decode_body(body)
    assert decoded.object == KUBECTL_JSON[command]
    assert decoded.skipped == []
    assert json.dumps(decoded.object)  # plain JSON types only


def test_kubectl_debug_node_pod_decodes_with_host_namespaces_and_volume() -> None:
    pod = decode_body(DEBUG_NODE_POD).object
    assert pod["metadata"] == {
        "name": "node-debugger-nodeq-2wkgf",
        "labels": {"app.kubernetes.io/managed-by": "kubectl-debug"},
    }
    assert pod["spec"] == {
        "volumes": [{"name": "host-root", "hostPath": {"path": "/"}}],
        "containers": [
            {
                "name": "debugger",
                "image": "busybox",
                "resources": {},
                "volumeMounts": [{"name": "host-root", "mountPath": "/host"}],
                "terminationMessagePolicy": "File",
            }
        ],
        "restartPolicy": "Never",
        "nodeName": "nodeq",
        "hostNetwork": True,
        "hostPID": True,
        "hostIPC": True,
        "tolerations": [{"operator": "Exists"}],
    }


def test_kubectl_debug_copy_pod_keeps_defaulted_fields_and_pointer_zeros() -> None:
    spec = decode_body(DEBUG_COPY_POD).object["spec"]
    container = spec["containers"][0]
    assert container["args"] == ["sleep", "10"]
    assert container["env"] == [{"name": "X", "value": "1"}]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert container["securityContext"] == {"capabilities": {"add": ["SYS_PTRACE"]}}
    assert spec["priority"] == 0  # a pointer: zero is a value, not absence
    assert spec["shareProcessNamespace"] is True
    assert spec["securityContext"] == {}
    assert spec["tolerations"][0] == {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    }


def test_kubectl_drain_delete_options_carry_the_grace_period() -> None:
    assert decode_body(DELETE_OPTIONS).object == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "gracePeriodSeconds": 7,
    }
    assert decode_delete_options(DELETE_OPTIONS, PROTOBUF) == {"gracePeriodSeconds": 7}
