"""An example Python worker whose payloads are encrypted before they reach Temporal.

    worker.py worker  --address HOST:PORT --keyring FILE --vault-addr URL --vault-key NAME
    worker.py execute --address HOST:PORT --keyring FILE ... --workflow-id ID --input TEXT

`worker` runs a worker for the `Greet` workflow until stopped; `execute` runs one workflow
through a client with the same codec and prints its result. The Vault token is read from
VAULT_TOKEN.
"""

import argparse
import asyncio
import dataclasses
import os
import sys
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.worker import Worker

# The workflow sandbox re-imports a workflow's module; the codec (and the cryptography
# extension under it) runs outside workflows, so it is passed through instead.
with workflow.unsafe.imports_passed_through():
    from engram_codec import EncryptionCodec, Keyring, VaultTransit

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


async def connect(args) -> Client:
    kms = VaultTransit(args.vault_addr, args.vault_key, os.environ["VAULT_TOKEN"])
    with open(args.keyring) as f:
        keyring = Keyring.unwrap(f.read(), kms)
    converter = dataclasses.replace(DataConverter.default, payload_codec=EncryptionCodec(keyring))
    return await Client.connect(args.address, data_converter=converter)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["worker", "execute"])
    parser.add_argument("--address", required=True)
    parser.add_argument("--keyring", required=True)
    parser.add_argument("--vault-addr", required=True)
    parser.add_argument("--vault-key", default="engram")
    parser.add_argument("--workflow-id")
    parser.add_argument("--input")
    args = parser.parse_args()
    client = await connect(args)
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
