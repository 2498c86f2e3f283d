"""Generated stubs of proto/shardex.proto (gen_stubs.sh; never committed)."""
