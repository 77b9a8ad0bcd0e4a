package qdrant

import (
	"slices"
	"testing"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/harborstays/concierge/lib/embed"
	"github.com/harborstays/concierge/lib/retrieval/qdranttest"
)

func TestInspectWhatNewMade(t *testing.T) {
	srv := qdranttest.StartServer(t)
	client := dial(t, srv.Addr)
	open(t, srv, embed.NewHashing(8))
	in, err := Inspect(t.Context(), client, "chunks")
	if err != nil {
		t.Fatal(err)
	}
	if !in.Exists || !in.Unnamed || in.Size != 8 || in.Distance != "Cosine" || len(in.Missing) != 0 ||
		!slices.Equal(in.Indexed, PayloadIndexes()) {
		t.Fatalf("got %+v", in)
	}
	if m := in.VectorsMismatch(8, ""); m != "" {
		t.Fatalf("mismatch %q", m)
	}
	if m := in.VectorsMismatch(768, ""); m == "" {
		t.Fatal("768 dimensions accepted for an 8-dimension collection")
	}
}

func TestInspectChangesNothing(t *testing.T) {
	srv := qdranttest.StartServer(t)
	client := dial(t, srv.Addr)
	in, err := Inspect(t.Context(), client, "absent")
	if err != nil || in.Exists {
		t.Fatalf("got %+v, %v", in, err)
	}
	if ok, _ := client.CollectionExists(t.Context(), "absent"); ok {
		t.Fatal("Inspect created the collection")
	}
	if n := srv.Calls(qc.Points_CreateFieldIndex_FullMethodName) + srv.Calls(qc.Collections_Create_FullMethodName); n != 0 {
		t.Fatalf("%d writes", n)
	}
}

func TestInspectMissingIndexAndModel(t *testing.T) {
	srv := qdranttest.StartServer(t)
	client := dial(t, srv.Addr)
	ctx := t.Context()
	err := client.CreateCollection(ctx, &qc.CreateCollection{
		CollectionName: "old",
		VectorsConfig:  qc.NewVectorsConfig(&qc.VectorParams{Size: 4, Distance: qc.Distance_Dot}),
		Metadata:       map[string]*qc.Value{metadataModel: qc.NewValueString("other-model")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateFieldIndex(ctx, &qc.CreateFieldIndexCollection{CollectionName: "old", FieldName: keyGlobal, FieldType: qc.PtrOf(qc.FieldType_FieldTypeKeyword)}); err != nil {
		t.Fatal(err)
	}
	in, err := Inspect(ctx, client, "old")
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Missing) != len(payloadIndexes) || !slices.Contains(in.Missing, "global (bool)") {
		t.Fatalf("missing %q (a keyword index on a bool key does not count)", in.Missing)
	}
	if m := in.VectorsMismatch(4, ""); m == "" {
		t.Fatal("Dot accepted")
	}
	in.Distance = "Cosine"
	if m := in.VectorsMismatch(4, "nomic-embed-text"); m == "" {
		t.Fatal("another model accepted")
	}
}

func TestAuthFailed(t *testing.T) {
	if !AuthFailed(classify("x", status.Error(codes.Unauthenticated, "Invalid api-key"))) {
		t.Fatal("Unauthenticated")
	}
	if AuthFailed(classify("x", status.Error(codes.Unavailable, "down"))) {
		t.Fatal("Unavailable")
	}
}
