module github.com/mnemo-dev/mnemo/services/query

go 1.26

require github.com/mnemo-dev/mnemo/pkg v0.0.0

replace github.com/mnemo-dev/mnemo/pkg => ../../pkg
