#!/usr/bin/env python3
"""Regenerates src/go-json-tags.json from the Go types of the Kubernetes API.

A real API server decodes every built-in object into its Go struct and encodes it again before
storing it, so what it stores is what Go's encoding/json makes of the struct: fields in declaration
order, map keys sorted, and `omitempty` fields dropped when empty (false, 0, "", nil pointers, and
empty slices and maps; never a non-pointer struct), `omitzero` fields dropped when zero. This script
reads, for every struct type listed in src/openapi-list-types.json, the json tag and the kind of Go
type of each field, so the test server can do the same round trip.

The sources are k8s.io/api and k8s.io/apimachinery at the revision named below (the staging
repositories kubernetes/api and kubernetes/apimachinery), given either as checkouts or as git
directories:

Usage: scripts/extract-go-json-tags.py --api PATH --apimachinery PATH [--ref TAG] [--check]
  PATH      a checkout, or a git directory (then files are read at TAG with `git show`)
  --check   compare with the committed file instead of writing it; exit 1 when they differ

Field kinds: v a scalar value (string, number, bool, or []byte), t a struct value, p a pointer,
s a slice, m a map, x a value with its own JSON form (Quantity, IntOrString, Time, MicroTime,
Duration, RawExtension, FieldsV1). Flags after the kind: o for omitempty, z for omitzero.
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(HERE, "..", "src", "go-json-tags.json")
LIST_TYPES = os.path.join(HERE, "..", "src", "openapi-list-types.json")
# The OpenAPI data (kubernetes-validate 1.37.0) has types newer than the v0.37.0-beta.0 tag, so the
# staging repositories are read at the commit below on their master branches (July 2026).
DEFAULT_REF = "master"

# Go types (package-qualified as written in k8s.io/api) with their own MarshalJSON.
CUSTOM_JSON = {
    "resource.Quantity", "intstr.IntOrString", "metav1.Time", "metav1.MicroTime", "metav1.Duration",
    "runtime.RawExtension", "metav1.FieldsV1", "Time", "MicroTime", "Duration", "FieldsV1",
}
SCALARS = {"string", "bool", "int", "int32", "int64", "uint64", "float32", "float64", "byte",
           "types.UID", "UID"}


class Source:
    def __init__(self, path, ref):
        self.path = path
        self.ref = ref
        self.git = os.path.isfile(os.path.join(path, "HEAD")) and not os.path.isdir(
            os.path.join(path, ".git"))

    def revision(self):
        if not self.git:
            return "checkout"
        return subprocess.run(["git", "-C", self.path, "rev-parse", self.ref], check=True,
                              capture_output=True, text=True).stdout.strip()

    def files(self, directory):
        if self.git:
            out = subprocess.run(["git", "-C", self.path, "ls-tree", "--name-only",
                                  "%s:%s" % (self.ref, directory)],
                                 check=True, capture_output=True, text=True).stdout.split()
        else:
            out = os.listdir(os.path.join(self.path, directory))
        return [os.path.join(directory, f) for f in sorted(out)
                if f.endswith(".go") and not f.endswith("_test.go")]

    def read(self, name):
        if self.git:
            return subprocess.run(["git", "-C", self.path, "show", "%s:%s" % (self.ref, name)],
                                  check=True, capture_output=True, text=True).stdout
        with open(os.path.join(self.path, name)) as f:
            return f.read()


TYPE_DECL = re.compile(r"^type (\w+) (.+)$")
FIELD = re.compile(r"^\s*(?:(\w+)\s+)?(\S+)\s+`([^`]*)`")


def strip_comment(line):
    return line.split("//", 1)[0].rstrip()


def parse_package(source, directory):
    """Struct fields and named non-struct types of one Go package."""
    structs, named = {}, {}
    for name in source.files(directory):
        lines = source.read(name).splitlines()
        i = 0
        while i < len(lines):
            m = TYPE_DECL.match(lines[i])
            if not m:
                i += 1
                continue
            type_name, rest = m.group(1), strip_comment(m.group(2)).strip()
            if rest == "struct {":
                fields = []
                i += 1
                while i < len(lines) and lines[i] != "}":
                    line = lines[i]
                    f = FIELD.match(line)
                    if f and not line.strip().startswith("//"):
                        fields.append((f.group(1), f.group(2), f.group(3)))
                    i += 1
                structs[type_name] = fields
            else:
                named[type_name] = rest
            i += 1
    return structs, named


def tag_of(tags):
    m = re.search(r'json:"([^"]*)"', tags)
    if not m:
        return None
    parts = m.group(1).split(",")
    return parts[0], set(parts[1:])


class Extractor:
    def __init__(self, api, apimachinery):
        self.api = api
        self.apimachinery = apimachinery
        self.packages = {}

    def package(self, openapi_package):
        """Go package for an OpenAPI name prefix, e.g. io.k8s.api.core.v1."""
        if openapi_package not in self.packages:
            if openapi_package.startswith("io.k8s.api."):
                group, version = openapi_package[len("io.k8s.api."):].split(".")
                parsed = parse_package(self.api, "%s/%s" % (group, version))
            elif openapi_package == "io.k8s.apimachinery.pkg.apis.meta.v1":
                parsed = parse_package(self.apimachinery, "pkg/apis/meta/v1")
            else:
                parsed = ({}, {})
            self.packages[openapi_package] = parsed
        return self.packages[openapi_package]

    def kind(self, go_type, named):
        if go_type.startswith("*"):
            return "p"
        if go_type == "[]byte":
            return "v"
        if go_type.startswith("[]"):
            return "s"
        if go_type.startswith("map["):
            return "m"
        if go_type in CUSTOM_JSON:
            return "x"
        if go_type in SCALARS:
            return "v"
        if go_type in named:
            underlying = named[go_type]
            if underlying.startswith("map["):
                return "m"
            if underlying.startswith("[]") and underlying != "[]byte":
                return "s"
            return "v"
        return "t"

    def fields(self, openapi_name):
        package, type_name = openapi_name.rsplit(".", 1)
        structs, named = self.package(package)
        if type_name not in structs:
            return None
        out = []
        for field_name, go_type, tags in structs[type_name]:
            tag = tag_of(tags)
            if tag is None or tag[0] == "-":
                continue
            json_name, options = tag
            if "inline" in options or (field_name is None and json_name == ""):
                inline = go_type.split(".")[-1]
                if inline == "TypeMeta":
                    out.append(["kind", "vo"])
                    out.append(["apiVersion", "vo"])
                    continue
                nested = self.fields("%s.%s" % (package, inline))
                out.extend(nested or [])
                continue
            flags = self.kind(go_type, named)
            if "omitempty" in options:
                flags += "o"
            if "omitzero" in options:
                flags += "z"
            out.append([json_name or field_name or go_type.split(".")[-1], flags])
        return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", required=True)
    parser.add_argument("--apimachinery", required=True)
    parser.add_argument("--ref", default=DEFAULT_REF)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    extractor = Extractor(Source(args.api, args.ref), Source(args.apimachinery, args.ref))
    with open(LIST_TYPES) as f:
        openapi = json.load(f)["types"]
    types = {}
    for name, entry in sorted(openapi.items()):
        if name.startswith("io.k8s.apiextensions-apiserver."):
            continue  # CustomResourceDefinitions are not normalized (JSONSchemaProps has custom JSON)
        fields = extractor.fields(name)
        if fields is None:
            sys.exit("no Go struct for %s" % name)
        go_names = {f[0] for f in fields}
        missing = sorted(set(entry["fields"]) - go_names)
        if missing:
            sys.exit("%s: OpenAPI fields without a Go field: %s" % (name, missing))
        types[name] = fields
    data = {
        "source": "k8s.io/api %s and k8s.io/apimachinery %s (Go struct json tags)" % (
            extractor.api.revision(), extractor.apimachinery.revision()),
        "types": types,
    }
    text = json.dumps(data, separators=(",", ":")) + "\n"
    if args.check:
        with open(OUTPUT) as f:
            if f.read() != text:
                sys.exit("%s is out of date; run scripts/extract-go-json-tags.py" % os.path.normpath(OUTPUT))
        print("%s matches the Go types (%d types)" % (os.path.normpath(OUTPUT), len(types)))
        return
    with open(OUTPUT, "w") as f:
        f.write(text)
    print("wrote %s (%d types)" % (os.path.normpath(OUTPUT), len(types)))


if __name__ == "__main__":
    main()
