package lease_test

import (
	"context"
	"testing"
	"time"

	"github.com/mnemo-dev/mnemo/pkg/lease"
	"github.com/mnemo-dev/mnemo/pkg/testkit"
)

// Only the holder extends or releases; a free or expired key is taken.
func TestOnlyTheHolderExtendsAndReleases(t *testing.T) {
	rdb := testkit.StartRedis(t).Client(t)
	ctx := context.Background()
	must := func(ok bool, err error) bool {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !must(lease.Take(ctx, rdb, "k", "a", time.Minute)) {
		t.Fatal("a could not take a free key")
	}
	if must(lease.Take(ctx, rdb, "k", "b", time.Minute)) {
		t.Fatal("b took a's key")
	}
	if !must(lease.Take(ctx, rdb, "k", "a", time.Minute)) {
		t.Fatal("a could not renew its own key by taking it again")
	}
	if must(lease.Extend(ctx, rdb, "k", "b", time.Hour)) || must(lease.Release(ctx, rdb, "k", "b")) {
		t.Fatal("b extended or released a's key")
	}
	if !must(lease.Extend(ctx, rdb, "k", "a", time.Hour)) {
		t.Fatal("a could not extend its key")
	}
	if ttl := rdb.PTTL(ctx, "k").Val(); ttl <= time.Minute {
		t.Fatalf("after extending to an hour the TTL is %s", ttl)
	}
	if !must(lease.Release(ctx, rdb, "k", "a")) {
		t.Fatal("a could not release its key")
	}
	if must(lease.Extend(ctx, rdb, "k", "a", time.Hour)) {
		t.Fatal("a extended a released key")
	}
	if !must(lease.Take(ctx, rdb, "k", "b", 50*time.Millisecond)) {
		t.Fatal("b could not take the released key")
	}
	time.Sleep(120 * time.Millisecond)
	if !must(lease.Take(ctx, rdb, "k", "a", time.Minute)) {
		t.Fatal("a could not take the key after b's lease expired")
	}
}
