#!/usr/bin/env python3
"""Regenerates src/openapi-list-types.json from Kubernetes' published OpenAPI definitions.

The definitions come from PyPI kubernetes-validate==1.37.0 (installed by scripts/tools/kube-api into
.tools/venvs/kubernetes-validate-1.37.0). For every kind the test server serves, this walks the type graph
from the kind's root definition and keeps only what server-side apply needs: the fields of each
struct, the JSON type of each scalar (string, integer with its
format, number, boolean, or the special types int-or-string, quantity, date-time and base64 bytes),
and for lists and maps their x-kubernetes-list-type, x-kubernetes-list-map-keys and
x-kubernetes-map-type annotations. Descriptions, enums and other validation rules are dropped.

Usage: scripts/extract-list-types.py [--check] [path/to/_definitions.json]
  --check   compare with the committed file instead of writing it; exit 1 when they differ
"""
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
VERSION = "v1.37.0-local"
OUTPUT = os.path.join(HERE, "..", "src", "openapi-list-types.json")

KINDS = {
    "v1/Namespace": "io.k8s.api.core.v1.Namespace",
    "v1/ConfigMap": "io.k8s.api.core.v1.ConfigMap",
    "v1/Secret": "io.k8s.api.core.v1.Secret",
    "v1/Service": "io.k8s.api.core.v1.Service",
    "v1/ServiceAccount": "io.k8s.api.core.v1.ServiceAccount",
    "v1/Pod": "io.k8s.api.core.v1.Pod",
    "apps/v1/Deployment": "io.k8s.api.apps.v1.Deployment",
    "apps/v1/StatefulSet": "io.k8s.api.apps.v1.StatefulSet",
    "batch/v1/Job": "io.k8s.api.batch.v1.Job",
    "networking.k8s.io/v1/NetworkPolicy": "io.k8s.api.networking.v1.NetworkPolicy",
    "networking.k8s.io/v1/Ingress": "io.k8s.api.networking.v1.Ingress",
    "policy/v1/PodDisruptionBudget": "io.k8s.api.policy.v1.PodDisruptionBudget",
    "rbac.authorization.k8s.io/v1/Role": "io.k8s.api.rbac.v1.Role",
    "rbac.authorization.k8s.io/v1/RoleBinding": "io.k8s.api.rbac.v1.RoleBinding",
    "apiextensions.k8s.io/v1/CustomResourceDefinition":
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
}

# Types with their own JSON form, described as one scalar kind.
SPECIAL_SCALARS = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity": "quantity",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "int-or-string",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": "time",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "time",
}


def find_definitions(args):
    if args:
        return args[0]
    pattern = os.path.join(ROOT, ".tools", "venvs", "kubernetes-validate-1.37.0", "lib", "python3*",
                           "site-packages", "kubernetes_validate", "kubernetes-json-schema",
                           VERSION, "_definitions.json")
    found = glob.glob(pattern)
    if not found:
        sys.exit("kubernetes-validate is not installed; run scripts/install-tools")
    return found[0]


def ref_name(ref):
    return ref.rsplit("/", 1)[-1]


class Extractor:
    def __init__(self, definitions):
        self.definitions = definitions
        self.types = {}

    def scalar(self, schema):
        """The scalar kind of a JSON schema without properties."""
        kind = schema.get("type")
        kinds = [k for k in (kind if isinstance(kind, list) else [kind]) if k != "null"]
        if kinds == ["string"]:
            return "bytes" if schema.get("format") == "byte" else "string"
        if kinds == ["integer"]:
            return "int32" if schema.get("format") == "int32" else "int64"
        if kinds == ["number"]:
            return "number"
        if kinds == ["boolean"]:
            return "boolean"
        return "any"

    def describe(self, schema):
        """A compact descriptor: s scalar (st: its kind), u untyped, r struct reference, l list,
        m map."""
        if "$ref" in schema:
            name = ref_name(schema["$ref"])
            if name in SPECIAL_SCALARS:
                return {"t": "s", "st": SPECIAL_SCALARS[name]}
            self.visit(name)
            if name in self.types:
                return {"t": "r", "r": name}
            definition = self.definitions[name]
            if "type" not in definition or "object" in str(definition.get("type")):
                return {"t": "u"}
            return {"t": "s", "st": self.scalar(definition)}
        kind = schema.get("type")
        if kind is None:
            return {"t": "u"}
        kinds = kind if isinstance(kind, list) else [kind]
        if "array" in kinds:
            out = {"t": "l", "e": self.describe(schema.get("items", {})),
                   "lt": schema.get("x-kubernetes-list-type", "atomic")}
            if "x-kubernetes-list-map-keys" in schema:
                out["k"] = schema["x-kubernetes-list-map-keys"]
            return out
        if "object" in kinds and "additionalProperties" in schema:
            return {"t": "m", "e": self.describe(schema["additionalProperties"]),
                    "mt": schema.get("x-kubernetes-map-type", "granular")}
        if "object" in kinds and "properties" not in schema:
            return {"t": "u"}
        return {"t": "s", "st": self.scalar(schema)}

    def visit(self, name):
        if name in self.types:
            return
        definition = self.definitions[name]
        properties = definition.get("properties")
        if not properties:
            return
        entry = {"fields": {}}
        self.types[name] = entry
        if definition.get("x-kubernetes-map-type") == "atomic":
            entry["atomic"] = True
        for field, schema in sorted(properties.items()):
            entry["fields"][field] = self.describe(schema)


def main():
    args = sys.argv[1:]
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    path = find_definitions(args)
    with open(path) as f:
        definitions = json.load(f)["$defs"]
    extractor = Extractor(definitions)
    for root in KINDS.values():
        extractor.visit(root)
    data = {
        "source": "PyPI kubernetes-validate==1.37.0, kubernetes-json-schema/%s/_definitions.json" % VERSION,
        "kinds": KINDS,
        "types": dict(sorted(extractor.types.items())),
    }
    text = json.dumps(data, separators=(",", ":"), sort_keys=False) + "\n"
    if check:
        with open(OUTPUT) as f:
            if f.read() != text:
                sys.exit("%s is out of date; run scripts/extract-list-types.py" % os.path.normpath(OUTPUT))
        print("%s matches the OpenAPI definitions (%d types)" % (os.path.normpath(OUTPUT), len(extractor.types)))
        return
    with open(OUTPUT, "w") as f:
        f.write(text)
    print("wrote %s (%d types)" % (os.path.normpath(OUTPUT), len(extractor.types)))


if __name__ == "__main__":
    main()
