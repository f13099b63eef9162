package store_test

import (
	"path/filepath"
	"testing"

	"github.com/mnemo-dev/mnemo/pkg/store/storetest"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) string { return filepath.Join(t.TempDir(), "mnemo.db") })
}

func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) string { return testkit.StartPostgres(t) })
}
