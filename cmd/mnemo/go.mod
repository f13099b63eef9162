module github.com/mnemo-dev/mnemo/cmd/mnemo

go 1.26.0

require (
	github.com/mnemo-dev/mnemo/pkg v0.0.0
	github.com/mnemo-dev/mnemo/services/agent-worker v0.0.0
	github.com/mnemo-dev/mnemo/services/ingest v0.0.0
	github.com/mnemo-dev/mnemo/services/query v0.0.0
	github.com/mnemo-dev/mnemo/services/reaper v0.0.0
)

require (
	github.com/modelcontextprotocol/go-sdk v1.8.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

replace github.com/mnemo-dev/mnemo/services/ingest => ../../services/ingest

replace github.com/mnemo-dev/mnemo/services/agent-worker => ../../services/agent-worker

replace github.com/mnemo-dev/mnemo/services/reaper => ../../services/reaper

replace github.com/mnemo-dev/mnemo/services/query => ../../services/query

replace github.com/mnemo-dev/mnemo/pkg => ../../pkg
