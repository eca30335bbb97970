"""The deployed topology, run locally: emulator rules and queues, and a runner in the event source mapping's role."""
