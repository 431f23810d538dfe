"""What tests and benchmarks share: app servers, a protocol client, attack files, samples."""
