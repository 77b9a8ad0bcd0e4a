package doctor

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/harborstays/concierge/lib/embed"
	"github.com/harborstays/concierge/lib/retrieval/qdrant"
	"github.com/harborstays/concierge/lib/retrieval/qdranttest"
)

const (
	embedKey   = "emb-key-0123456789"
	embedModel = "nomic-embed-text"
)

// embeddingsServer is an OpenAI-compatible POST /v1/embeddings serving
// embedModel with dims-dimension vectors to embedKey: 401 for another key,
// 404 for another model, as Ollama and OpenAI answer.
func embeddingsServer(t *testing.T, dims int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+embedKey {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`))
			return
		}
		var req struct {
			Model string   `json:"model"`
			Input []string `json:"input"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if req.Model != embedModel {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"message":"model \"` + req.Model + `\" not found, try pulling it first"}}`))
			return
		}
		type item struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		data := make([]item, len(req.Input))
		for i := range req.Input {
			v := make([]float32, dims)
			v[i%dims] = 1
			data[i] = item{i, v}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model})
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// collection makes the collection as vectorize does: qdrant.New with the
// embeddings client of base.
func collection(t *testing.T, addr, base, name string) {
	t.Helper()
	client, err := qdrant.Dial("http://"+addr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	emb, err := embed.New(embed.Options{BaseURL: base, Model: embedModel, APIKey: embedKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := qdrant.New(t.Context(), client, emb, name); err != nil {
		t.Fatal(err)
	}
}

func retrievalEnv(base, addr string) map[string]string {
	return map[string]string{"EMBEDDINGS_URL": base, "EMBEDDINGS_MODEL": embedModel, "EMBEDDINGS_API_KEY": embedKey,
		"QDRANT_URL": "http://" + addr, "QDRANT_COLLECTION": "chunks"}
}

func TestRetrievalRight(t *testing.T) {
	base := embeddingsServer(t, 8)
	srv := qdranttest.StartServer(t)
	collection(t, srv.Addr, base, "chunks")
	res := report(t, retrievalEnv(base, srv.Addr), Options{})
	want(t, res, "embeddings", OK, "model nomic-embed-text answers 8-dimension vectors", "")
	want(t, res, "qdrant collection", OK, "collection chunks: 0 points, 8-dimension Cosine vectors", "")
	want(t, res, "qdrant payload indexes", OK, "all 7 present", "")
	if n := srv.Calls(qc.Collections_Create_FullMethodName); n != 1 {
		t.Fatalf("%d collections created, want only the test's", n)
	}
}

func TestRetrievalWrongVectorSize(t *testing.T) {
	srv := qdranttest.StartServer(t)
	collection(t, srv.Addr, embeddingsServer(t, 16), "chunks")
	res := report(t, retrievalEnv(embeddingsServer(t, 8), srv.Addr), Options{})
	want(t, res, "qdrant collection", Fail, "holds 16-dimension Cosine vectors, the embedder makes 8-dimension", "QDRANT_COLLECTION")
}

func TestRetrievalMissingCollection(t *testing.T) {
	base := embeddingsServer(t, 8)
	srv := qdranttest.StartServer(t)
	env := retrievalEnv(base, srv.Addr)
	env["QDRANT_COLLECTION"] = "absent"
	res := report(t, env, Options{})
	want(t, res, "qdrant collection", Fail, "no collection absent", "QDRANT_COLLECTION")
	want(t, res, "qdrant payload indexes", Skip, "no collection absent", "")
	if ok, _ := dialT(t, srv.Addr).CollectionExists(t.Context(), "absent"); ok {
		t.Fatal("the doctor created the collection")
	}
}

func dialT(t *testing.T, addr string) *qc.Client {
	client, err := qdrant.Dial("http://"+addr, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func TestRetrievalMissingPayloadIndex(t *testing.T) {
	base := embeddingsServer(t, 8)
	srv := qdranttest.StartServer(t)
	client := dialT(t, srv.Addr)
	// A collection made before the guest_id and restricted indexes existed.
	err := client.CreateCollection(t.Context(), &qc.CreateCollection{CollectionName: "chunks",
		VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: 8, Distance: qc.Distance_Cosine})})
	if err != nil {
		t.Fatal(err)
	}
	for key, typ := range map[string]qc.FieldType{"document_id": qc.FieldType_FieldTypeKeyword, "global": qc.FieldType_FieldTypeBool,
		"listing_id": qc.FieldType_FieldTypeKeyword, "reservation_id": qc.FieldType_FieldTypeKeyword} {
		if _, err := client.CreateFieldIndex(t.Context(), &qc.CreateFieldIndexCollection{CollectionName: "chunks", FieldName: key, FieldType: qc.PtrOf(typ)}); err != nil {
			t.Fatal(err)
		}
	}
	res := report(t, retrievalEnv(base, srv.Addr), Options{})
	want(t, res, "qdrant collection", OK, "8-dimension Cosine", "")
	want(t, res, "qdrant payload indexes", Fail, "lacks guest_id (keyword), restricted (bool)", "redeploy")
}

func TestRetrievalEmbeddingsBroken(t *testing.T) {
	base := embeddingsServer(t, 8)
	srv := qdranttest.StartServer(t)
	collection(t, srv.Addr, base, "chunks")

	env := retrievalEnv(base, srv.Addr)
	env["EMBEDDINGS_API_KEY"] = "wrong-key-0123456789"
	res := report(t, env, Options{})
	want(t, res, "embeddings", Fail, "401", "EMBEDDINGS_API_KEY")
	want(t, res, "qdrant collection", Skip, "size not compared", "")

	env = retrievalEnv(base, srv.Addr)
	env["EMBEDDINGS_MODEL"] = "nomic-embed-txt"
	res = report(t, env, Options{})
	want(t, res, "embeddings", Fail, "not found", "EMBEDDINGS_MODEL")

	env = retrievalEnv(base, srv.Addr)
	env["EMBEDDINGS_DIMENSIONS"] = "768"
	res = report(t, env, Options{})
	want(t, res, "embeddings", Fail, "returns 8-dimension vectors, EMBEDDINGS_DIMENSIONS is 768", "EMBEDDINGS_DIMENSIONS")
}

func TestRetrievalOfflineEmbedderAndUnreachableQdrant(t *testing.T) {
	srv := qdranttest.StartServer(t)
	client := dialT(t, srv.Addr)
	if _, err := qdrant.New(t.Context(), client, embed.NewHashing(0), "chunks"); err != nil {
		t.Fatal(err)
	}
	res := report(t, map[string]string{"QDRANT_URL": "http://" + srv.Addr, "QDRANT_COLLECTION": "chunks"}, Options{})
	want(t, res, "embeddings", Skip, "local default in use: offline hashing embedder, 256 dimensions", "")
	want(t, res, "qdrant collection", OK, "256-dimension Cosine", "")

	res = report(t, map[string]string{"QDRANT_URL": "http://127.0.0.1:1"}, Options{})
	want(t, res, "qdrant collection", Fail, "127.0.0.1:1", "QDRANT_URL")
	want(t, res, "qdrant payload indexes", Skip, "could not be read", "")

	res = report(t, map[string]string{"QDRANT_URL": "http://qdrant:6333"}, Options{})
	want(t, res, "qdrant collection", Fail, "6333", "QDRANT_URL")
}
