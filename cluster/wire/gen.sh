#!/usr/bin/env bash
# Regenerates wire.pb.go from wire.proto. Needs protoc and protoc-gen-go at the
# version of google.golang.org/protobuf in go.mod:
#   apt-get install -y protobuf-compiler
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.34.2
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v protoc-gen-go >/dev/null 2>&1; then
	PATH="$(go env GOPATH)/bin:$PATH"
	export PATH
fi
command -v protoc >/dev/null || { echo "gen.sh: protoc not found (apt-get install -y protobuf-compiler)" >&2; exit 1; }
command -v protoc-gen-go >/dev/null || { echo "gen.sh: protoc-gen-go not found (go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.34.2)" >&2; exit 1; }

protoc --go_out=. --go_opt=paths=source_relative wire.proto
