package qdranttest

import (
	"net"
	"slices"
	"strconv"
	"testing"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func client(t *testing.T) (*Server, *qc.Client) {
	t.Helper()
	s := StartServer(t)
	host, port, _ := net.SplitHostPort(s.Addr)
	p, _ := strconv.Atoi(port)
	// The version check runs against our health service.
	c, err := qc.NewClient(&qc.Config{Host: host, Port: p, PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return s, c
}

func seed(t *testing.T, c *qc.Client) {
	t.Helper()
	ctx := t.Context()
	if err := c.CreateCollection(ctx, &qc.CreateCollection{CollectionName: "c", VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: 2, Distance: qc.Distance_Cosine})}); err != nil {
		t.Fatal(err)
	}
	for key, ft := range map[string]qc.FieldType{"tag": qc.FieldType_FieldTypeKeyword, "ok": qc.FieldType_FieldTypeBool, "n": qc.FieldType_FieldTypeInteger, "opt": qc.FieldType_FieldTypeKeyword} {
		if _, err := c.CreateFieldIndex(ctx, &qc.CreateFieldIndexCollection{CollectionName: "c", FieldName: key, FieldType: qc.PtrOf(ft)}); err != nil {
			t.Fatal(err)
		}
	}
	points := []*qc.PointStruct{
		{Id: qc.NewIDNum(1), Vectors: qc.NewVectorsDense([]float32{1, 0}), Payload: qc.NewValueMap(map[string]any{"tag": "a", "ok": true, "n": 1, "opt": "x"})},
		{Id: qc.NewIDNum(2), Vectors: qc.NewVectorsDense([]float32{3, 3}), Payload: qc.NewValueMap(map[string]any{"tag": []any{"a", "b"}, "ok": false, "n": 2})},
		{Id: qc.NewIDNum(3), Vectors: qc.NewVectorsDense([]float32{0, 2}), Payload: qc.NewValueMap(map[string]any{"tag": "c", "ok": true, "n": 3, "opt": nil})},
		{Id: qc.NewID("6F1C3B0E-0000-4000-8000-000000000004"), Vectors: qc.NewVectorsDense([]float32{-1, 0}), Payload: qc.NewValueMap(map[string]any{"tag": []any{}, "n": 4})},
	}
	if _, err := c.Upsert(ctx, &qc.UpsertPoints{CollectionName: "c", Points: points}); err != nil {
		t.Fatal(err)
	}
}

func idsOf(ps []*qc.RetrievedPoint) []string {
	var out []string
	for _, p := range ps {
		if u := p.GetId().GetUuid(); u != "" {
			out = append(out, u[:4])
		} else {
			out = append(out, strconv.FormatUint(p.GetId().GetNum(), 10))
		}
	}
	return out
}

func TestFilters(t *testing.T) {
	_, c := client(t)
	seed(t, c)
	tests := []struct {
		name   string
		filter *qc.Filter
		want   []string
	}{
		{"none", nil, []string{"1", "2", "3", "6f1c"}},
		{"keyword, also inside a list", &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword("tag", "a")}}, []string{"1", "2"}},
		{"keywords any", &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeywords("tag", "b", "c")}}, []string{"2", "3"}},
		{"except keywords", &qc.Filter{Must: []*qc.Condition{qc.NewMatchExcept("tag", "a")}}, []string{"2", "3", "6f1c"}},
		{"bool", &qc.Filter{Must: []*qc.Condition{qc.NewMatchBool("ok", false)}}, []string{"2"}},
		{"integer", &qc.Filter{Must: []*qc.Condition{qc.NewMatchInt("n", 3)}}, []string{"3"}},
		{"is_empty: missing, null, []", &qc.Filter{Must: []*qc.Condition{qc.NewIsEmpty("opt")}}, []string{"2", "3", "6f1c"}},
		{"is_empty on an empty list", &qc.Filter{Must: []*qc.Condition{qc.NewIsEmpty("tag")}}, []string{"6f1c"}},
		{"is_null: only null", &qc.Filter{Must: []*qc.Condition{qc.NewIsNull("opt")}}, []string{"3"}},
		{"has_id, any UUID spelling", &qc.Filter{Must: []*qc.Condition{qc.NewHasID(qc.NewIDNum(2), qc.NewID("6f1c3b0e000040008000000000000004"))}}, []string{"2", "6f1c"}},
		{"must_not", &qc.Filter{MustNot: []*qc.Condition{qc.NewMatchBool("ok", true)}}, []string{"2", "6f1c"}},
		// Qdrant: a point without the key matches no match condition, so
		// must_not keeps it and must drops it (how team_only treats
		// points written before it existed).
		{"must_not keeps a point missing the key", &qc.Filter{MustNot: []*qc.Condition{qc.NewMatchBool("ok", false)}}, []string{"1", "3", "6f1c"}},
		{"must drops a point missing the key", &qc.Filter{Must: []*qc.Condition{qc.NewMatchBool("ok", true)}}, []string{"1", "3"}},
		{"should is or", &qc.Filter{Should: []*qc.Condition{qc.NewMatchKeyword("tag", "c"), qc.NewMatchInt("n", 1)}}, []string{"1", "3"}},
		{"must and should", &qc.Filter{Must: []*qc.Condition{qc.NewMatchBool("ok", true)}, Should: []*qc.Condition{qc.NewMatchInt("n", 2), qc.NewMatchInt("n", 3)}}, []string{"3"}},
		{"nested filter", &qc.Filter{Should: []*qc.Condition{
			qc.NewFilterAsCondition(&qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword("tag", "a"), qc.NewMatchBool("ok", false)}}),
			qc.NewMatchInt("n", 4),
		}}, []string{"2", "6f1c"}},
		{"min_should", &qc.Filter{MinShould: &qc.MinShould{MinCount: 2, Conditions: []*qc.Condition{qc.NewMatchKeyword("tag", "a"), qc.NewMatchBool("ok", true), qc.NewIsEmpty("opt")}}}, []string{"1", "2", "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Scroll(t.Context(), &qc.ScrollPoints{CollectionName: "c", Filter: tt.filter, Limit: qc.PtrOf(uint32(10))})
			if err != nil {
				t.Fatal(err)
			}
			if ids := idsOf(got); !slices.Equal(ids, tt.want) {
				t.Errorf("got %v, want %v", ids, tt.want)
			}
			n, err := c.Count(t.Context(), &qc.CountPoints{CollectionName: "c", Filter: tt.filter})
			if err != nil || int(n) != len(tt.want) {
				t.Errorf("count %d %v", n, err)
			}
		})
	}
}

func TestQueryRanksByCosine(t *testing.T) {
	_, c := client(t)
	seed(t, c)
	got, err := c.Query(t.Context(), &qc.QueryPoints{CollectionName: "c", Query: qc.NewQueryDense([]float32{2, 0}), Limit: qc.PtrOf(uint64(3)), WithPayload: qc.NewWithPayloadInclude("tag")})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id    uint64
		score float32
	}{{1, 1}, {2, 0.70710677}, {3, 0}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i, w := range want {
		if got[i].GetId().GetNum() != w.id || got[i].GetScore()-w.score > 1e-6 || w.score-got[i].GetScore() > 1e-6 {
			t.Errorf("hit %d: %v %g, want %d %g", i, got[i].GetId(), got[i].GetScore(), w.id, w.score)
		}
		if _, ok := got[i].GetPayload()["n"]; ok || got[i].GetPayload()["tag"] == nil {
			t.Errorf("payload selector ignored: %v", got[i].GetPayload())
		}
	}
	got, err = c.Query(t.Context(), &qc.QueryPoints{CollectionName: "c", Query: qc.NewQueryDense([]float32{2, 0}), ScoreThreshold: qc.PtrOf(float32(0.5)), Filter: &qc.Filter{Must: []*qc.Condition{qc.NewMatchBool("ok", true)}}})
	if err != nil || len(got) != 1 || got[0].GetId().GetNum() != 1 {
		t.Errorf("threshold and filter: %v %v", got, err)
	}
}

func TestDeleteAndScrollPages(t *testing.T) {
	_, c := client(t)
	seed(t, c)
	ctx := t.Context()
	page, next, err := c.ScrollAndOffset(ctx, &qc.ScrollPoints{CollectionName: "c", Limit: qc.PtrOf(uint32(2))})
	if err != nil || !slices.Equal(idsOf(page), []string{"1", "2"}) || next.GetNum() != 3 {
		t.Fatalf("first page %v next %v: %v", idsOf(page), next, err)
	}
	page, next, err = c.ScrollAndOffset(ctx, &qc.ScrollPoints{CollectionName: "c", Limit: qc.PtrOf(uint32(2)), Offset: next})
	if err != nil || !slices.Equal(idsOf(page), []string{"3", "6f1c"}) || next != nil {
		t.Fatalf("second page %v next %v: %v", idsOf(page), next, err)
	}
	if _, err := c.Delete(ctx, &qc.DeletePoints{CollectionName: "c", Points: qc.NewPointsSelectorFilter(&qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword("tag", "a")}})}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, &qc.DeletePoints{CollectionName: "c", Points: qc.NewPointsSelector(qc.NewIDNum(3), qc.NewIDNum(99))}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, &qc.GetPoints{CollectionName: "c", Ids: []*qc.PointId{qc.NewIDNum(1), qc.NewIDNum(3), qc.NewID("6f1c3b0e-0000-4000-8000-000000000004")}})
	if err != nil || !slices.Equal(idsOf(got), []string{"6f1c"}) {
		t.Errorf("after deletes: %v %v", idsOf(got), err)
	}
}

func TestRefusals(t *testing.T) {
	s, c := client(t)
	seed(t, c)
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"unknown collection", func() error { _, err := c.Count(ctx, &qc.CountPoints{CollectionName: "nope"}); return err }, codes.NotFound},
		{"collection exists", func() error {
			return c.CreateCollection(ctx, &qc.CreateCollection{CollectionName: "c", VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: 2, Distance: qc.Distance_Cosine})})
		}, codes.AlreadyExists},
		{"wrong dimension", func() error {
			_, err := c.Upsert(ctx, &qc.UpsertPoints{CollectionName: "c", Points: []*qc.PointStruct{{Id: qc.NewIDNum(9), Vectors: qc.NewVectorsDense([]float32{1, 2, 3})}}})
			return err
		}, codes.InvalidArgument},
		{"bad UUID", func() error {
			_, err := c.Upsert(ctx, &qc.UpsertPoints{CollectionName: "c", Points: []*qc.PointStruct{{Id: qc.NewID("not-a-uuid"), Vectors: qc.NewVectorsDense([]float32{1, 2})}}})
			return err
		}, codes.InvalidArgument},
		{"filter on an unindexed key (strict mode)", func() error {
			_, err := c.Count(ctx, &qc.CountPoints{CollectionName: "c", Filter: &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword("other", "x")}}})
			return err
		}, codes.InvalidArgument},
		{"bool match on a keyword index", func() error {
			_, err := c.Count(ctx, &qc.CountPoints{CollectionName: "c", Filter: &qc.Filter{Must: []*qc.Condition{qc.NewMatchBool("tag", true)}}})
			return err
		}, codes.InvalidArgument},
		{"unsupported condition", func() error {
			_, err := c.Count(ctx, &qc.CountPoints{CollectionName: "c", Filter: &qc.Filter{Must: []*qc.Condition{qc.NewHasVector("v")}}})
			return err
		}, codes.Unimplemented},
		{"injected failure", func() error {
			s.FailNext(qc.Points_Count_FullMethodName, status.Error(codes.Unavailable, "down"))
			_, err := c.Count(ctx, &qc.CountPoints{CollectionName: "c"})
			return err
		}, codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := status.Code(tt.call()); got != tt.code {
				t.Errorf("code %s, want %s", got, tt.code)
			}
		})
	}
	// The failed batch wrote nothing.
	if n, err := c.Count(ctx, &qc.CountPoints{CollectionName: "c"}); err != nil || n != 4 {
		t.Errorf("count %d %v", n, err)
	}
}

// The payload index picks candidates; it must never change a result: an
// index created after the points, a point overwritten with another value,
// a point deleted, a should over indexed keys, a must beside an unindexed
// condition.
func TestPayloadIndexNeverChangesResults(t *testing.T) {
	_, c := client(t)
	ctx := t.Context()
	if err := c.CreateCollection(ctx, &qc.CreateCollection{CollectionName: "p", VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: 2, Distance: qc.Distance_Cosine})}); err != nil {
		t.Fatal(err)
	}
	var pts []*qc.PointStruct
	for i := range 40 {
		pts = append(pts, &qc.PointStruct{Id: qc.NewIDNum(uint64(i)), Vectors: qc.NewVectorsDense([]float32{1, float32(i)}),
			Payload: qc.NewValueMap(map[string]any{"g": strconv.Itoa(i % 4), "ok": i%3 == 0})})
	}
	if _, err := c.Upsert(ctx, &qc.UpsertPoints{CollectionName: "p", Points: pts}); err != nil {
		t.Fatal(err)
	}
	for key, ft := range map[string]qc.FieldType{"g": qc.FieldType_FieldTypeKeyword, "ok": qc.FieldType_FieldTypeBool} {
		if _, err := c.CreateFieldIndex(ctx, &qc.CreateFieldIndexCollection{CollectionName: "p", FieldName: key, FieldType: qc.PtrOf(ft)}); err != nil {
			t.Fatal(err)
		}
	}
	// Point 1 moves from g=1 to g=2; point 2 is deleted.
	if _, err := c.Upsert(ctx, &qc.UpsertPoints{CollectionName: "p", Points: []*qc.PointStruct{{Id: qc.NewIDNum(1),
		Vectors: qc.NewVectorsDense([]float32{1, 1}), Payload: qc.NewValueMap(map[string]any{"g": "2", "ok": false})}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, &qc.DeletePoints{CollectionName: "p", Points: qc.NewPointsSelector(qc.NewIDNum(2))}); err != nil {
		t.Fatal(err)
	}
	// want lists, in id order, the points left (all but 2) that pred keeps.
	want := func(pred func(i int) bool) []string {
		var out []string
		for i := range 40 {
			if i != 2 && pred(i) {
				out = append(out, strconv.Itoa(i))
			}
		}
		return out
	}
	g := func(i int) string {
		if i == 1 {
			return "2"
		}
		return strconv.Itoa(i % 4)
	}
	ok := func(i int) bool { return i != 1 && i%3 == 0 }
	tests := []struct {
		name string
		f    *qc.Filter
		want []string
	}{
		{"keyword", &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword("g", "1")}}, want(func(i int) bool { return g(i) == "1" })},
		{"moved value", &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword("g", "2")}}, want(func(i int) bool { return g(i) == "2" })},
		{"should", &qc.Filter{Should: []*qc.Condition{qc.NewMatchKeyword("g", "3"), qc.NewMatchBool("ok", true)}},
			want(func(i int) bool { return g(i) == "3" || ok(i) })},
		{"must and must_not", &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeywords("g", "0", "2")}, MustNot: []*qc.Condition{qc.NewMatchBool("ok", true)}},
			want(func(i int) bool { return (g(i) == "0" || g(i) == "2") && !ok(i) })},
		{"should with an unindexable condition", &qc.Filter{Should: []*qc.Condition{qc.NewMatchKeyword("g", "3"), qc.NewHasID(qc.NewIDNum(5))}},
			want(func(i int) bool { return g(i) == "3" || i == 5 })},
	}
	for _, tt := range tests {
		got, err := c.Scroll(ctx, &qc.ScrollPoints{CollectionName: "p", Filter: tt.f, Limit: qc.PtrOf(uint32(100))})
		if err != nil {
			t.Fatal(err)
		}
		if ids := idsOf(got); !slices.Equal(ids, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, ids, tt.want)
		}
	}
}
