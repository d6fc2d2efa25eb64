"""An example Python worker whose payloads are encrypted before they reach Temporal.

    worker.py worker  --address HOST:PORT [--tls-ca FILE] --keyring FILE KMS [--namespace NS] [...]
    worker.py execute --address HOST:PORT --keyring FILE KMS [...] --workflow-id ID --input TEXT

`worker` runs a worker for the `Greet` workflow until stopped; `execute` runs one workflow
through a client with the same codec and prints its result.

KMS is one of:
  --vault-addr URL [--vault-key NAME] [--vault-mount PATH]   Vault/OpenBao Transit; token in VAULT_TOKEN
  --aws-kms-key ID [--aws-region R] [--aws-endpoint URL]      AWS KMS (boto3's credential chain)
  --azure-vault-url URL --azure-key NAME [--azure-client-id ID]
                                                              Azure Key Vault (workload or managed identity)
  --gcp-key projects/.../cryptoKeys/K [--gcp-endpoint URL]    Google Cloud KMS (metadata server, or
                                                              a token in GCP_ACCESS_TOKEN)

The keyring file is reloaded every --reload-interval seconds (a mounted Secret changes in
place). Payloads are sealed for --namespace (default TEMPORAL_NAMESPACE, else `default`), the
client's namespace; --accept-source-namespace (repeatable) also opens payloads sealed for another
namespace, for Nexus operations that cross on purpose.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig
from temporalio.worker import Worker

# The workflow sandbox re-imports a workflow's module; the codec (and the cryptography
# extension under it) runs outside workflows, so it is passed through instead.
with workflow.unsafe.imports_passed_through():
    from engram_codec import (
        DEFAULT_RELOAD_INTERVAL_SECONDS,
        AwsKms,
        AzureKeyVault,
        EncryptionCodec,
        GcpAccessToken,
        GcpKms,
        KeyringFile,
        KeyUnwrapper,
        VaultTransit,
        azure_credential_from_environment,
    )
    from engram_codec.kms.gcp import DEFAULT_ENDPOINT as GCP_DEFAULT_ENDPOINT

TASK_QUEUE = "engram-codec-example"


@activity.defn
async def compose_greeting(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class Greet:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            compose_greeting, name, start_to_close_timeout=timedelta(seconds=30)
        )


def key_unwrapper(args: argparse.Namespace) -> KeyUnwrapper:
    """The KMS client the command line names."""
    if args.vault_addr:
        token = os.environ.get("VAULT_TOKEN")
        if not token:
            sys.exit("worker.py: --vault-addr needs a Vault token in VAULT_TOKEN")
        return VaultTransit(args.vault_addr, args.vault_key, token, mount=args.vault_mount)
    if args.aws_kms_key:
        return AwsKms(args.aws_kms_key, region=args.aws_region, endpoint_url=args.aws_endpoint)
    if args.azure_vault_url:
        if not args.azure_key:
            sys.exit("worker.py: --azure-vault-url needs --azure-key")
        return AzureKeyVault(
            args.azure_vault_url, args.azure_key, azure_credential_from_environment(args.azure_client_id)
        )
    token = os.environ.get("GCP_ACCESS_TOKEN")
    return GcpKms(args.gcp_key, endpoint=args.gcp_endpoint, credential=GcpAccessToken(token) if token else None)


async def connect(args: argparse.Namespace, keyring: KeyringFile) -> Client:
    codec = EncryptionCodec(
        keyring, namespace=args.namespace, accepted_source_namespaces=args.accept_source_namespace
    )
    converter = dataclasses.replace(DataConverter.default, payload_codec=codec)
    tls: TLSConfig | bool = False
    if args.tls_ca:
        with open(args.tls_ca, "rb") as f:
            tls = TLSConfig(server_root_ca_cert=f.read(), domain=args.tls_server_name)
    client = await Client.connect(args.address, namespace=args.namespace, data_converter=converter, tls=tls)
    assert client.namespace == codec.namespace
    return client


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["worker", "execute"])
    parser.add_argument("--address", required=True)
    parser.add_argument("--tls-ca", metavar="FILE", help="PEM CA of a TLS frontend's certificate (plain TCP without it)")
    parser.add_argument("--tls-server-name", help="the name the frontend's certificate carries (default: the host of --address)")
    parser.add_argument("--namespace", default=os.environ.get("TEMPORAL_NAMESPACE") or "default")
    parser.add_argument("--accept-source-namespace", action="append", default=[], metavar="NAMESPACE")
    parser.add_argument("--keyring", required=True, help="the keyring document (a mounted Secret's file)")
    parser.add_argument("--reload-interval", type=float, default=DEFAULT_RELOAD_INTERVAL_SECONDS, metavar="SECONDS")
    kms = parser.add_mutually_exclusive_group(required=True)
    kms.add_argument("--vault-addr")
    kms.add_argument("--aws-kms-key")
    kms.add_argument("--azure-vault-url")
    kms.add_argument("--gcp-key")
    parser.add_argument("--vault-key", default="engram")
    parser.add_argument("--vault-mount", default="transit")
    parser.add_argument("--aws-region")
    parser.add_argument("--aws-endpoint")
    parser.add_argument("--azure-key")
    parser.add_argument("--azure-client-id")
    parser.add_argument("--gcp-endpoint", default=GCP_DEFAULT_ENDPOINT)
    parser.add_argument("--workflow-id")
    parser.add_argument("--input")
    args = parser.parse_args()
    if args.command == "execute" and (args.workflow_id is None or args.input is None):
        parser.error("execute needs --workflow-id and --input")
    return args


async def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("engram_codec").setLevel(logging.INFO)
    # The worker follows the keyring file; a one-shot client only needs it once.
    with KeyringFile(
        args.keyring, key_unwrapper(args), reload_interval=args.reload_interval, watch=args.command == "worker"
    ) as keyring:
        client = await connect(args, keyring)
        if args.command == "worker":
            worker = Worker(client, task_queue=TASK_QUEUE, workflows=[Greet], activities=[compose_greeting])
            print("worker started", flush=True)
            await worker.run()
        else:
            result = await client.execute_workflow(
                Greet.run,
                args.input,
                id=args.workflow_id,
                task_queue=TASK_QUEUE,
                execution_timeout=timedelta(seconds=60),
            )
            print(result, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
    # A short-lived client can abort in interpreter shutdown ("PyGILState_Release: thread state
    # ... must be current") while the SDK's Rust threads wind down (temporalio/sdk-python#300).
    # The work is done and printed, so leave without that teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
