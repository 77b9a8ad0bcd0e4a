// Package qdranttest runs an in-process Qdrant for tests: a gRPC server on a
// loopback port, built on the go-client's generated service interfaces, that
// really stores points, evaluates payload filters and ranks by cosine
// similarity. No canned answers: what a test reads back is what it wrote.
//
// It covers what the retrieval index uses, and refuses the rest with
// Unimplemented rather than pretending:
//   - collections: Create (one unnamed dense vector, Cosine or Dot), Get,
//     CollectionExists, List, Delete;
//   - points: Upsert, Delete (by ids or filter), Get, Scroll, Count, Query
//     (nearest to a dense vector, with filter, score threshold, limit,
//     offset), CreateFieldIndex;
//   - filters: must / should / must_not / min_should, nested filters, field
//     match on keyword, keywords (any), except keywords, bool and integer,
//     is_empty, is_null, has_id;
//   - the health check, so qdrant.NewClient's version check passes.
//
// Like Qdrant, it keeps a payload index of the indexed keys' values: a
// filter whose should or must conditions match indexed keys scans only the
// points the index names (each still matched in full), so a search over a
// large collection costs what the scope holds, not every point.
//
// Filters are checked the way Qdrant's strict mode checks them (the mode
// Qdrant Cloud enables): a condition on a payload key needs a payload index
// of a fitting type on that key. That catches an index bootstrap that forgot
// one of the keys it filters on.
package qdranttest

import (
	"context"
	"fmt"
	"math"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Version is what the health check reports; the go-client accepts a server
// of the same major version and a minor version at most one apart.
const Version = "1.17.0"

// defaultLimit is Qdrant's when a request sets none.
const defaultLimit = 10

// Server is one in-process Qdrant.
type Server struct {
	// Addr is host:port of the gRPC listener on 127.0.0.1.
	Addr string

	mu       sync.Mutex
	cols     map[string]*collection
	failures map[string][]error
	calls    map[string]int
}

type collection struct {
	size     int
	distance qc.Distance
	metadata map[string]*qc.Value
	indexes  map[string]qc.FieldType
	points   map[string]*point
	// postings is the payload index, as Qdrant keeps one: for each indexed
	// top-level key, each value (token) to the points holding it. Filters
	// use it to pick candidates, then every candidate is matched in full,
	// so it changes speed, never results.
	postings map[string]map[string]map[string]struct{}
}

type point struct {
	id      *qc.PointId
	key     string
	vector  []float32
	payload map[string]*qc.Value
}

// Start runs a Server until the test ends and returns its address.
func Start(t testing.TB) string {
	return StartServer(t).Addr
}

// StartServer runs a Server until the test ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("qdranttest: listen: %v", err)
	}
	s := &Server{Addr: lis.Addr().String(), cols: map[string]*collection{}, failures: map[string][]error{}, calls: map[string]int{}}
	g := grpc.NewServer(
		grpc.UnaryInterceptor(s.intercept),
		// The go-client pings every 10 s; do not answer that with GOAWAY.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
	)
	qc.RegisterCollectionsServer(g, &collections{s: s})
	qc.RegisterPointsServer(g, &points{s: s})
	qc.RegisterQdrantServer(g, &health{})
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return s
}

// FailNext makes the next call of method (a full gRPC method name such as
// qc.Points_Delete_FullMethodName) fail with err; calls queue up.
func (s *Server) FailNext(method string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[method] = append(s.failures[method], err)
}

// Calls counts the calls of method so far, failed ones included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	s.mu.Lock()
	s.calls[info.FullMethod]++
	var err error
	if q := s.failures[info.FullMethod]; len(q) > 0 {
		err, s.failures[info.FullMethod] = q[0], q[1:]
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return next(ctx, req)
}

// collection returns the named collection; s.mu must be held.
func (s *Server) collection(name string) (*collection, error) {
	c, ok := s.cols[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Not found: Collection `%s` doesn't exist!", name)
	}
	return c, nil
}

type health struct {
	qc.UnimplementedQdrantServer
}

func (*health) HealthCheck(context.Context, *qc.HealthCheckRequest) (*qc.HealthCheckReply, error) {
	return &qc.HealthCheckReply{Title: "qdrant - vector search engine (qdranttest)", Version: Version}, nil
}

type collections struct {
	qc.UnimplementedCollectionsServer
	s *Server
}

func (h *collections) Create(_ context.Context, r *qc.CreateCollection) (*qc.CollectionOperationResponse, error) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.GetCollectionName()
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "Validation error: collection_name must not be empty")
	}
	if _, ok := s.cols[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Wrong input: Collection `%s` already exists!", name)
	}
	if r.GetSparseVectorsConfig() != nil {
		return nil, status.Error(codes.Unimplemented, "qdranttest: sparse vectors are not supported")
	}
	params := r.GetVectorsConfig().GetParams()
	if params == nil {
		return nil, status.Error(codes.Unimplemented, "qdranttest: only one unnamed dense vector per point is supported")
	}
	if params.GetSize() == 0 {
		return nil, status.Error(codes.InvalidArgument, "Validation error: vectors size must be greater than 0")
	}
	switch params.GetDistance() {
	case qc.Distance_Cosine, qc.Distance_Dot:
	default:
		return nil, status.Errorf(codes.Unimplemented, "qdranttest: distance %s is not supported", params.GetDistance())
	}
	md := map[string]*qc.Value{}
	for k, v := range r.GetMetadata() {
		md[k] = proto.Clone(v).(*qc.Value)
	}
	s.cols[name] = &collection{
		size:     int(params.GetSize()),
		distance: params.GetDistance(),
		metadata: md,
		indexes:  map[string]qc.FieldType{},
		points:   map[string]*point{},
		postings: map[string]map[string]map[string]struct{}{},
	}
	return &qc.CollectionOperationResponse{Result: true}, nil
}

func (h *collections) Get(_ context.Context, r *qc.GetCollectionInfoRequest) (*qc.GetCollectionInfoResponse, error) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	schema := map[string]*qc.PayloadSchemaInfo{}
	for key, ft := range c.indexes {
		n := uint64(0)
		for _, p := range c.points {
			if len(values(p.payload, key)) > 0 {
				n++
			}
		}
		schema[key] = &qc.PayloadSchemaInfo{DataType: schemaType(ft), Points: &n}
	}
	md := map[string]*qc.Value{}
	for k, v := range c.metadata {
		md[k] = proto.Clone(v).(*qc.Value)
	}
	count := uint64(len(c.points))
	return &qc.GetCollectionInfoResponse{Result: &qc.CollectionInfo{
		Status:          qc.CollectionStatus_Green,
		OptimizerStatus: &qc.OptimizerStatus{Ok: true},
		SegmentsCount:   1,
		PointsCount:     &count,
		PayloadSchema:   schema,
		Config: &qc.CollectionConfig{
			Params: &qc.CollectionParams{
				ShardNumber:   1,
				VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: uint64(c.size), Distance: c.distance}),
			},
			Metadata: md,
		},
	}}, nil
}

func (h *collections) CollectionExists(_ context.Context, r *qc.CollectionExistsRequest) (*qc.CollectionExistsResponse, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	_, ok := h.s.cols[r.GetCollectionName()]
	return &qc.CollectionExistsResponse{Result: &qc.CollectionExists{Exists: ok}}, nil
}

func (h *collections) List(context.Context, *qc.ListCollectionsRequest) (*qc.ListCollectionsResponse, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	out := &qc.ListCollectionsResponse{}
	for _, name := range sortedKeys(h.s.cols) {
		out.Collections = append(out.Collections, &qc.CollectionDescription{Name: name})
	}
	return out, nil
}

func (h *collections) Delete(_ context.Context, r *qc.DeleteCollection) (*qc.CollectionOperationResponse, error) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	_, ok := h.s.cols[r.GetCollectionName()]
	delete(h.s.cols, r.GetCollectionName())
	return &qc.CollectionOperationResponse{Result: ok}, nil
}

type points struct {
	qc.UnimplementedPointsServer
	s *Server
}

func done() *qc.PointsOperationResponse {
	return &qc.PointsOperationResponse{Result: &qc.UpdateResult{Status: qc.UpdateStatus_Completed}}
}

func (h *points) CreateFieldIndex(_ context.Context, r *qc.CreateFieldIndexCollection) (*qc.PointsOperationResponse, error) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if r.GetFieldName() == "" || r.FieldType == nil {
		return nil, status.Error(codes.InvalidArgument, "Validation error: field_name and field_type are required")
	}
	c.indexes[r.GetFieldName()] = r.GetFieldType()
	c.reindex(r.GetFieldName())
	return done(), nil
}

func (h *points) Upsert(_ context.Context, r *qc.UpsertPoints) (*qc.PointsOperationResponse, error) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if r.UpdateFilter != nil || r.ShardKeySelector != nil {
		return nil, status.Error(codes.Unimplemented, "qdranttest: update_filter and shard keys are not supported")
	}
	// Validate the whole batch first: Qdrant applies a batch or refuses it.
	batch := make([]*point, 0, len(r.GetPoints()))
	for _, ps := range r.GetPoints() {
		key, id, err := pointKey(ps.GetId())
		if err != nil {
			return nil, err
		}
		vec, err := denseVector(ps.GetVectors())
		if err != nil {
			return nil, err
		}
		if len(vec) != c.size {
			return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: %d, got %d", c.size, len(vec))
		}
		if c.distance == qc.Distance_Cosine {
			vec = normalise(vec)
		}
		payload := map[string]*qc.Value{}
		for k, v := range ps.GetPayload() {
			payload[k] = proto.Clone(v).(*qc.Value)
		}
		batch = append(batch, &point{id: id, key: key, vector: vec, payload: payload})
	}
	for _, p := range batch {
		c.remove(p.key)
		c.points[p.key] = p
		c.index(p)
	}
	return done(), nil
}

func (h *points) Delete(_ context.Context, r *qc.DeletePoints) (*qc.PointsOperationResponse, error) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	sel := r.GetPoints()
	switch {
	case sel.GetPoints() != nil:
		for _, id := range sel.GetPoints().GetIds() {
			key, _, err := pointKey(id)
			if err != nil {
				return nil, err
			}
			c.remove(key)
		}
	case sel.GetFilter() != nil:
		matched, err := c.filter(sel.GetFilter())
		if err != nil {
			return nil, err
		}
		for _, p := range matched {
			c.remove(p.key)
		}
	default:
		return nil, status.Error(codes.InvalidArgument, "Validation error: points selector is required")
	}
	return done(), nil
}

func (h *points) Get(_ context.Context, r *qc.GetPoints) (*qc.GetResponse, error) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	out := &qc.GetResponse{}
	for _, id := range r.GetIds() {
		key, _, err := pointKey(id)
		if err != nil {
			return nil, err
		}
		if p, ok := c.points[key]; ok {
			out.Result = append(out.Result, retrieved(p, r.GetWithPayload(), r.GetWithVectors()))
		}
	}
	return out, nil
}

func (h *points) Scroll(_ context.Context, r *qc.ScrollPoints) (*qc.ScrollResponse, error) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if r.OrderBy != nil {
		return nil, status.Error(codes.Unimplemented, "qdranttest: order_by is not supported")
	}
	matched, err := c.filter(r.GetFilter())
	if err != nil {
		return nil, err
	}
	sort.Slice(matched, func(i, j int) bool { return idLess(matched[i].id, matched[j].id) })
	if r.Offset != nil {
		_, from, err := pointKey(r.GetOffset())
		if err != nil {
			return nil, err
		}
		i := sort.Search(len(matched), func(i int) bool { return !idLess(matched[i].id, from) })
		matched = matched[i:]
	}
	limit := defaultLimit
	if r.Limit != nil {
		limit = int(r.GetLimit())
	}
	out := &qc.ScrollResponse{}
	for i, p := range matched {
		if i == limit {
			out.NextPageOffset = proto.Clone(p.id).(*qc.PointId)
			break
		}
		out.Result = append(out.Result, retrieved(p, r.GetWithPayload(), r.GetWithVectors()))
	}
	return out, nil
}

func (h *points) Count(_ context.Context, r *qc.CountPoints) (*qc.CountResponse, error) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	matched, err := c.filter(r.GetFilter())
	if err != nil {
		return nil, err
	}
	return &qc.CountResponse{Result: &qc.CountResult{Count: uint64(len(matched))}}, nil
}

func (h *points) Query(_ context.Context, r *qc.QueryPoints) (*qc.QueryResponse, error) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.collection(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if len(r.GetPrefetch()) > 0 || r.GetUsing() != "" || r.LookupFrom != nil || r.ShardKeySelector != nil {
		return nil, status.Error(codes.Unimplemented, "qdranttest: prefetch, named vectors, lookup_from and shard keys are not supported")
	}
	nearest := r.GetQuery().GetNearest()
	if nearest == nil || nearest.GetDense() == nil {
		return nil, status.Error(codes.Unimplemented, "qdranttest: only a nearest query with a dense vector is supported")
	}
	q := nearest.GetDense().GetData()
	if len(q) != c.size {
		return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: %d, got %d", c.size, len(q))
	}
	if c.distance == qc.Distance_Cosine {
		q = normalise(q)
	}
	matched, err := c.filter(r.GetFilter())
	if err != nil {
		return nil, err
	}
	type scored struct {
		p     *point
		score float32
	}
	var ranked []scored
	for _, p := range matched {
		var dot float64
		for i := range q {
			dot += float64(q[i]) * float64(p.vector[i])
		}
		sc := float32(dot)
		if r.ScoreThreshold != nil && sc < r.GetScoreThreshold() {
			continue
		}
		ranked = append(ranked, scored{p, sc})
	}
	sort.Slice(ranked, func(i, j int) bool {
		if ranked[i].score != ranked[j].score {
			return ranked[i].score > ranked[j].score
		}
		return idLess(ranked[i].p.id, ranked[j].p.id)
	})
	offset := int(r.GetOffset())
	limit := defaultLimit
	if r.Limit != nil {
		limit = int(r.GetLimit())
	}
	out := &qc.QueryResponse{}
	for i := offset; i < len(ranked) && i < offset+limit; i++ {
		rp := retrieved(ranked[i].p, r.GetWithPayload(), r.GetWithVectors())
		out.Result = append(out.Result, &qc.ScoredPoint{Id: rp.Id, Payload: rp.Payload, Vectors: rp.Vectors, Score: ranked[i].score, Version: 1})
	}
	return out, nil
}

// filter returns the points matching f (all for nil); s.mu must be held.
// Candidates come from the payload index when f allows it (see
// candidates), else from every point; each is matched in full.
func (c *collection) filter(f *qc.Filter) ([]*point, error) {
	if err := c.checkFilter(f); err != nil {
		return nil, err
	}
	var out []*point
	try := func(p *point) error {
		ok, err := match(f, p)
		if ok {
			out = append(out, p)
		}
		return err
	}
	if keys, ok := c.candidates(f); ok {
		for key := range keys {
			if err := try(c.points[key]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	for _, p := range c.points {
		if err := try(p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// token is a payload value as the payload index keys it; false for values
// no match condition the index serves can meet.
func token(v *qc.Value) (string, bool) {
	switch k := v.GetKind().(type) {
	case *qc.Value_StringValue:
		return "s:" + k.StringValue, true
	case *qc.Value_BoolValue:
		return "b:" + strconv.FormatBool(k.BoolValue), true
	case *qc.Value_IntegerValue:
		return "i:" + strconv.FormatInt(k.IntegerValue, 10), true
	}
	return "", false
}

// index adds p to the postings of every indexed top-level key it holds.
func (c *collection) index(p *point) {
	for key := range c.indexes {
		if strings.Contains(key, ".") {
			continue
		}
		for _, v := range values(p.payload, key) {
			if t, ok := token(v); ok {
				byValue := c.postings[key]
				if byValue == nil {
					byValue = map[string]map[string]struct{}{}
					c.postings[key] = byValue
				}
				if byValue[t] == nil {
					byValue[t] = map[string]struct{}{}
				}
				byValue[t][p.key] = struct{}{}
			}
		}
	}
}

// remove deletes the point with key, and its postings.
func (c *collection) remove(key string) {
	p, ok := c.points[key]
	if !ok {
		return
	}
	for k, byValue := range c.postings {
		for _, v := range values(p.payload, k) {
			if t, ok := token(v); ok {
				delete(byValue[t], key)
			}
		}
	}
	delete(c.points, key)
}

// reindex rebuilds the postings of key over every point.
func (c *collection) reindex(key string) {
	delete(c.postings, key)
	if strings.Contains(key, ".") {
		return
	}
	for _, p := range c.points {
		for _, v := range values(p.payload, key) {
			if t, ok := token(v); ok {
				if c.postings[key] == nil {
					c.postings[key] = map[string]map[string]struct{}{}
				}
				if c.postings[key][t] == nil {
					c.postings[key][t] = map[string]struct{}{}
				}
				c.postings[key][t][p.key] = struct{}{}
			}
		}
	}
}

// candidates returns a superset of the points matching f from the payload
// index, or false when f has no condition the index can serve. A point
// matching f meets one of its should conditions (when there are some and
// no min_should) and every must condition, so the union of the shoulds'
// candidates, or the smallest must's, holds every match.
func (c *collection) candidates(f *qc.Filter) (map[string]struct{}, bool) {
	if f == nil {
		return nil, false
	}
	if len(f.GetShould()) > 0 && f.GetMinShould() == nil {
		union := map[string]struct{}{}
		all := true
		for _, cd := range f.GetShould() {
			keys, ok := c.condCandidates(cd)
			if !ok {
				all = false
				break
			}
			for k := range keys {
				union[k] = struct{}{}
			}
		}
		if all {
			return union, true
		}
	}
	var best map[string]struct{}
	found := false
	for _, cd := range f.GetMust() {
		if keys, ok := c.condCandidates(cd); ok && (!found || len(keys) < len(best)) {
			best, found = keys, true
		}
	}
	return best, found
}

func (c *collection) condCandidates(cd *qc.Condition) (map[string]struct{}, bool) {
	switch v := cd.GetConditionOneOf().(type) {
	case *qc.Condition_Filter:
		return c.candidates(v.Filter)
	case *qc.Condition_Field:
		byValue, ok := c.postings[v.Field.GetKey()]
		if _, indexed := c.indexes[v.Field.GetKey()]; !indexed || strings.Contains(v.Field.GetKey(), ".") {
			return nil, false
		}
		if !ok {
			byValue = nil // indexed, no point holds the key
		}
		if f := v.Field; f.Range != nil || f.GeoBoundingBox != nil || f.GeoRadius != nil || f.GeoPolygon != nil || f.ValuesCount != nil || f.DatetimeRange != nil {
			return nil, false
		}
		var tokens []string
		switch mv := v.Field.GetMatch().GetMatchValue().(type) {
		case *qc.Match_Keyword:
			tokens = []string{"s:" + mv.Keyword}
		case *qc.Match_Keywords:
			for _, k := range mv.Keywords.GetStrings() {
				tokens = append(tokens, "s:"+k)
			}
		case *qc.Match_Boolean:
			tokens = []string{"b:" + strconv.FormatBool(mv.Boolean)}
		case *qc.Match_Integer:
			tokens = []string{"i:" + strconv.FormatInt(mv.Integer, 10)}
		default:
			return nil, false
		}
		if len(tokens) == 1 {
			if keys := byValue[tokens[0]]; keys != nil {
				return keys, true
			}
			return map[string]struct{}{}, true
		}
		out := map[string]struct{}{}
		for _, t := range tokens {
			for k := range byValue[t] {
				out[k] = struct{}{}
			}
		}
		return out, true
	}
	return nil, false
}

// checkFilter refuses conditions on keys without a fitting payload index,
// as Qdrant's strict mode does.
func (c *collection) checkFilter(f *qc.Filter) error {
	if f == nil {
		return nil
	}
	conds := slices.Concat(f.GetMust(), f.GetShould(), f.GetMustNot(), f.GetMinShould().GetConditions())
	for _, cond := range conds {
		var key string
		var want []qc.FieldType
		switch v := cond.GetConditionOneOf().(type) {
		case *qc.Condition_Filter:
			if err := c.checkFilter(v.Filter); err != nil {
				return err
			}
			continue
		case *qc.Condition_IsEmpty:
			key = v.IsEmpty.GetKey()
		case *qc.Condition_IsNull:
			key = v.IsNull.GetKey()
		case *qc.Condition_Field:
			key = v.Field.GetKey()
			switch v.Field.GetMatch().GetMatchValue().(type) {
			case *qc.Match_Keyword, *qc.Match_Keywords, *qc.Match_ExceptKeywords:
				want = []qc.FieldType{qc.FieldType_FieldTypeKeyword, qc.FieldType_FieldTypeUuid}
			case *qc.Match_Boolean:
				want = []qc.FieldType{qc.FieldType_FieldTypeBool}
			case *qc.Match_Integer:
				want = []qc.FieldType{qc.FieldType_FieldTypeInteger}
			}
		default:
			continue
		}
		ft, ok := c.indexes[key]
		if !ok || (want != nil && !slices.Contains(want, ft)) {
			return status.Errorf(codes.InvalidArgument, "Bad request: Index required but not found for \"%s\" of one of the following types: %v. Help: Create an index for this key or use a different filter.", key, want)
		}
	}
	return nil
}

// match evaluates f on p with Qdrant's semantics: every must, no must_not,
// at least one should when there are any, and min_should.
func match(f *qc.Filter, p *point) (bool, error) {
	if f == nil {
		return true, nil
	}
	for _, c := range f.GetMust() {
		ok, err := cond(c, p)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, c := range f.GetMustNot() {
		ok, err := cond(c, p)
		if err != nil || ok {
			return false, err
		}
	}
	if len(f.GetShould()) > 0 {
		some := false
		for _, c := range f.GetShould() {
			ok, err := cond(c, p)
			if err != nil {
				return false, err
			}
			if ok {
				some = true
				break
			}
		}
		if !some {
			return false, nil
		}
	}
	if ms := f.GetMinShould(); ms != nil {
		n := uint64(0)
		for _, c := range ms.GetConditions() {
			ok, err := cond(c, p)
			if err != nil {
				return false, err
			}
			if ok {
				n++
			}
		}
		if n < ms.GetMinCount() {
			return false, nil
		}
	}
	return true, nil
}

func cond(c *qc.Condition, p *point) (bool, error) {
	switch v := c.GetConditionOneOf().(type) {
	case *qc.Condition_Filter:
		return match(v.Filter, p)
	case *qc.Condition_HasId:
		for _, id := range v.HasId.GetHasId() {
			key, _, err := pointKey(id)
			if err != nil {
				return false, err
			}
			if key == p.key {
				return true, nil
			}
		}
		return false, nil
	case *qc.Condition_IsEmpty:
		// Missing, null, or an empty list.
		for _, x := range values(p.payload, v.IsEmpty.GetKey()) {
			if _, null := x.GetKind().(*qc.Value_NullValue); !null {
				return false, nil
			}
		}
		return true, nil
	case *qc.Condition_IsNull:
		x, ok := lookup(p.payload, v.IsNull.GetKey())
		if !ok {
			return false, nil
		}
		_, null := x.GetKind().(*qc.Value_NullValue)
		return null, nil
	case *qc.Condition_Field:
		return fieldMatch(v.Field, p)
	}
	return false, status.Errorf(codes.Unimplemented, "qdranttest: condition %T is not supported", c.GetConditionOneOf())
}

func fieldMatch(f *qc.FieldCondition, p *point) (bool, error) {
	m := f.GetMatch()
	if m == nil || f.Range != nil || f.GeoBoundingBox != nil || f.GeoRadius != nil || f.GeoPolygon != nil || f.ValuesCount != nil || f.DatetimeRange != nil {
		return false, status.Errorf(codes.Unimplemented, "qdranttest: only match conditions are supported (key %s)", f.GetKey())
	}
	vals := values(p.payload, f.GetKey())
	anyValue := func(pred func(*qc.Value) bool) bool {
		return slices.ContainsFunc(vals, pred)
	}
	switch mv := m.GetMatchValue().(type) {
	case *qc.Match_Keyword:
		return anyValue(func(x *qc.Value) bool { s, ok := str(x); return ok && s == mv.Keyword }), nil
	case *qc.Match_Keywords:
		set := mv.Keywords.GetStrings()
		return anyValue(func(x *qc.Value) bool { s, ok := str(x); return ok && slices.Contains(set, s) }), nil
	case *qc.Match_ExceptKeywords:
		// Qdrant: true when some value is outside the set, or the key is
		// missing.
		if len(vals) == 0 {
			return true, nil
		}
		set := mv.ExceptKeywords.GetStrings()
		return anyValue(func(x *qc.Value) bool { s, ok := str(x); return !ok || !slices.Contains(set, s) }), nil
	case *qc.Match_Boolean:
		return anyValue(func(x *qc.Value) bool {
			b, ok := x.GetKind().(*qc.Value_BoolValue)
			return ok && b.BoolValue == mv.Boolean
		}), nil
	case *qc.Match_Integer:
		return anyValue(func(x *qc.Value) bool {
			n, ok := x.GetKind().(*qc.Value_IntegerValue)
			return ok && n.IntegerValue == mv.Integer
		}), nil
	}
	return false, status.Errorf(codes.Unimplemented, "qdranttest: match %T is not supported", m.GetMatchValue())
}

func str(v *qc.Value) (string, bool) {
	s, ok := v.GetKind().(*qc.Value_StringValue)
	if !ok {
		return "", false
	}
	return s.StringValue, true
}

// lookup follows a dotted key through nested objects.
func lookup(payload map[string]*qc.Value, key string) (*qc.Value, bool) {
	parts := strings.Split(key, ".")
	v, ok := payload[parts[0]]
	for _, part := range parts[1:] {
		if !ok {
			return nil, false
		}
		st := v.GetStructValue()
		if st == nil {
			return nil, false
		}
		v, ok = st.GetFields()[part]
	}
	return v, ok
}

// values is the value at key, or the elements when it is a list.
func values(payload map[string]*qc.Value, key string) []*qc.Value {
	v, ok := lookup(payload, key)
	if !ok {
		return nil
	}
	if l, isList := v.GetKind().(*qc.Value_ListValue); isList {
		return l.ListValue.GetValues()
	}
	return []*qc.Value{v}
}

// pointKey validates id and returns a map key and the canonical id: UUIDs
// in lower-case hyphenated form, as Qdrant returns them.
func pointKey(id *qc.PointId) (string, *qc.PointId, error) {
	switch v := id.GetPointIdOptions().(type) {
	case *qc.PointId_Num:
		return "n:" + strconv.FormatUint(v.Num, 10), qc.NewIDNum(v.Num), nil
	case *qc.PointId_Uuid:
		u, ok := canonicalUUID(v.Uuid)
		if !ok {
			return "", nil, status.Errorf(codes.InvalidArgument, "Unable to parse UUID: %s", v.Uuid)
		}
		return "u:" + u, qc.NewIDUUID(u), nil
	}
	return "", nil, status.Error(codes.InvalidArgument, "Validation error: point id is required")
}

func canonicalUUID(s string) (string, bool) {
	s = strings.ToLower(strings.Trim(s, "{}"))
	s = strings.TrimPrefix(s, "urn:uuid:")
	hex := strings.ReplaceAll(s, "-", "")
	if len(hex) != 32 || (len(s) != 32 && len(s) != 36) {
		return "", false
	}
	for _, r := range hex {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return "", false
		}
	}
	return hex[0:8] + "-" + hex[8:12] + "-" + hex[12:16] + "-" + hex[16:20] + "-" + hex[20:32], true
}

// idLess orders numeric ids before UUIDs, then by value, as Qdrant scrolls.
func idLess(a, b *qc.PointId) bool {
	an, aNum := a.GetPointIdOptions().(*qc.PointId_Num)
	bn, bNum := b.GetPointIdOptions().(*qc.PointId_Num)
	switch {
	case aNum && bNum:
		return an.Num < bn.Num
	case aNum != bNum:
		return aNum
	}
	return a.GetUuid() < b.GetUuid()
}

func denseVector(v *qc.Vectors) ([]float32, error) {
	vec := v.GetVector()
	if vec == nil {
		return nil, status.Error(codes.Unimplemented, "qdranttest: only one unnamed dense vector per point is supported")
	}
	if d := vec.GetDense(); d != nil {
		return slices.Clone(d.GetData()), nil
	}
	//nolint:staticcheck // older clients send the deprecated data field
	if data := vec.GetData(); len(data) > 0 && vec.GetIndices() == nil {
		return slices.Clone(data), nil
	}
	return nil, status.Error(codes.Unimplemented, "qdranttest: only dense vectors are supported")
}

// normalise scales v to unit length, as Qdrant does on write for Cosine;
// a zero vector stays zero.
func normalise(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if n == 0 {
		return out
	}
	inv := 1 / math.Sqrt(n)
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out
}

func retrieved(p *point, wp *qc.WithPayloadSelector, wv *qc.WithVectorsSelector) *qc.RetrievedPoint {
	out := &qc.RetrievedPoint{Id: proto.Clone(p.id).(*qc.PointId), Payload: map[string]*qc.Value{}}
	include := func(string) bool { return false }
	switch sel := wp.GetSelectorOptions().(type) {
	case *qc.WithPayloadSelector_Enable:
		include = func(string) bool { return sel.Enable }
	case *qc.WithPayloadSelector_Include:
		include = func(k string) bool { return slices.Contains(sel.Include.GetFields(), k) }
	case *qc.WithPayloadSelector_Exclude:
		include = func(k string) bool { return !slices.Contains(sel.Exclude.GetFields(), k) }
	}
	for k, v := range p.payload {
		if include(k) {
			out.Payload[k] = proto.Clone(v).(*qc.Value)
		}
	}
	if wv.GetEnable() {
		out.Vectors = &qc.VectorsOutput{VectorsOptions: &qc.VectorsOutput_Vector{Vector: &qc.VectorOutput{
			Vector: &qc.VectorOutput_Dense{Dense: &qc.DenseVector{Data: slices.Clone(p.vector)}},
		}}}
	}
	return out
}

func schemaType(ft qc.FieldType) qc.PayloadSchemaType {
	switch ft {
	case qc.FieldType_FieldTypeKeyword:
		return qc.PayloadSchemaType_Keyword
	case qc.FieldType_FieldTypeInteger:
		return qc.PayloadSchemaType_Integer
	case qc.FieldType_FieldTypeFloat:
		return qc.PayloadSchemaType_Float
	case qc.FieldType_FieldTypeGeo:
		return qc.PayloadSchemaType_Geo
	case qc.FieldType_FieldTypeText:
		return qc.PayloadSchemaType_Text
	case qc.FieldType_FieldTypeBool:
		return qc.PayloadSchemaType_Bool
	case qc.FieldType_FieldTypeDatetime:
		return qc.PayloadSchemaType_Datetime
	case qc.FieldType_FieldTypeUuid:
		return qc.PayloadSchemaType_Uuid
	}
	return qc.PayloadSchemaType_UnknownType
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// String describes the server for test logs.
func (s *Server) String() string { return fmt.Sprintf("qdranttest at %s", s.Addr) }
