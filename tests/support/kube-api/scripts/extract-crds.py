#!/usr/bin/env python3
"""Regenerates src/bundled-crds.json: the CustomResourceDefinitions of the custom resources the
provider applies, as published by their projects, with descriptions dropped.

  monitoring.coreos.com_servicemonitors.yaml and monitoring.coreos.com_prometheusrules.yaml from
  prometheus-operator v0.93.0 (example/prometheus-operator-crd/), and cert-manager.io_certificates.yaml
  from cert-manager v1.21.1 (deploy/crds/).

The test server serves these kinds from exactly these CRDs: their openAPIV3Schema drives the typed
apply conversion, pruning of unknown fields and the 422 schema validation, as on a real cluster
where the CRDs were installed.

Usage: scripts/extract-crds.py [--check] SERVICEMONITORS.yaml PROMETHEUSRULES.yaml CERTIFICATES.yaml
  --check   compare with the committed file instead of writing it; exit 1 when they differ

The three files are those paths at those release tags, e.g. from clones of the two repositories:
  git -C prometheus-operator show v0.93.0:example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml
  git -C prometheus-operator show v0.93.0:example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml
  git -C cert-manager show v1.21.1:deploy/crds/cert-manager.io_certificates.yaml

Needs PyYAML (it is in the kubernetes-validate virtualenv that scripts/install-tools creates).
"""
import json
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(HERE, "..", "src", "bundled-crds.json")
SOURCES = [
    "prometheus-operator v0.93.0 example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
    "prometheus-operator v0.93.0 example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
    "cert-manager v1.21.1 deploy/crds/cert-manager.io_certificates.yaml",
]

# Keywords whose values are maps of field name to schema, or a schema, or a list of schemas.
SCHEMA_MAPS = ("properties", "patternProperties", "definitions")
SCHEMA_ONE = ("items", "additionalProperties", "not", "additionalItems")
SCHEMA_LIST = ("allOf", "anyOf", "oneOf")


def strip_schema(node):
    """Drops the `description` keyword of every schema node, keeping fields named description."""
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "description":
            continue
        if key in SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: strip_schema(child) for name, child in value.items()}
        elif key in SCHEMA_ONE and isinstance(value, dict):
            out[key] = strip_schema(value)
        elif key in SCHEMA_LIST and isinstance(value, list):
            out[key] = [strip_schema(child) for child in value]
        else:
            out[key] = value
    return out


def strip_crd(crd):
    crd = dict(crd)
    metadata = dict(crd.get("metadata", {}))
    metadata.pop("annotations", None)
    metadata.pop("creationTimestamp", None)
    crd["metadata"] = metadata
    spec = dict(crd["spec"])
    versions = []
    for version in spec["versions"]:
        version = dict(version)
        if "additionalPrinterColumns" in version:
            version["additionalPrinterColumns"] = [
                {k: v for k, v in column.items() if k != "description"}
                for column in version["additionalPrinterColumns"]
            ]
        schema = version.get("schema", {}).get("openAPIV3Schema")
        if schema is not None:
            version["schema"] = {"openAPIV3Schema": strip_schema(schema)}
        versions.append(version)
    spec["versions"] = versions
    crd["spec"] = spec
    crd.pop("status", None)
    return crd


def main():
    args = sys.argv[1:]
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    if len(args) != 3:
        sys.exit(__doc__)
    crds = []
    for path in args:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        if len(docs) != 1 or docs[0].get("kind") != "CustomResourceDefinition":
            sys.exit("%s is not one CustomResourceDefinition" % path)
        crds.append(strip_crd(docs[0]))
    data = {"source": SOURCES, "crds": crds}
    text = json.dumps(data, separators=(",", ":")) + "\n"
    if check:
        with open(OUTPUT) as f:
            if f.read() != text:
                sys.exit("%s is out of date; run scripts/extract-crds.py" % os.path.normpath(OUTPUT))
        print("%s matches the published CRDs" % os.path.normpath(OUTPUT))
        return
    with open(OUTPUT, "w") as f:
        f.write(text)
    print("wrote %s (%d CRDs)" % (os.path.normpath(OUTPUT), len(crds)))


if __name__ == "__main__":
    main()
