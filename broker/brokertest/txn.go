package brokertest

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ProduceCommitted produces recs in one committed transaction (ids
// txnID), so that the log holds them followed by a commit marker: a
// control batch that a consumer has to pass over without a record to show
// for it.
func ProduceCommitted(ctx context.Context, t testing.TB, brokers []string, txnID string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(txnID))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
}
