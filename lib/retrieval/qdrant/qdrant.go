// Package qdrant is the production retrieval index: chunks as points in one
// Qdrant collection (gRPC, github.com/qdrant/go-client), one dense vector per
// chunk from an embedder, the chunk's fields and scope keys in the payload,
// and every search filtered on the scope by Qdrant itself.
//
// Payload of a point (names as in retrieval.Chunk's JSON): id, document_id,
// kind, section, title, text, global, restricted, team_only, and guest_id,
// listing_id, reservation_id when set. Empty scope keys are left out rather
// than stored as "", so "has no guest" is Qdrant's is_empty. Points written
// before audiences existed have no team_only: they count as the guest
// audience, as the PostgreSQL column's default does.
package qdrant

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/harborstays/concierge/lib/config"
	"github.com/harborstays/concierge/lib/fault"
	"github.com/harborstays/concierge/lib/logging"
	"github.com/harborstays/concierge/lib/retrieval"
)

// Settings read by FromConfig.
var (
	SettingURL        = config.Register(config.Setting{Name: "QDRANT_URL", Help: "Qdrant gRPC endpoint, e.g. http://qdrant:6334 (https for TLS; 6334 is the gRPC port, not REST's 6333); empty: the PostgreSQL full-text index", Used: "vectorize, llm-query"})
	SettingAPIKey     = config.Register(config.Setting{Name: "QDRANT_API_KEY", Secret: "qdrant-api-key", Help: "Qdrant API key (Qdrant Cloud, or a server started with one)", Used: "vectorize, llm-query"})
	SettingCollection = config.Register(config.Setting{Name: "QDRANT_COLLECTION", Default: DefaultCollection, Help: "collection holding the chunks; change it when changing the embeddings model", Used: "vectorize, llm-query"})
)

const (
	// DefaultCollection is the collection used when none is named.
	DefaultCollection = "concierge_chunks"
	// defaultGRPCPort is Qdrant's gRPC port; 6333 is its REST API.
	defaultGRPCPort = 6334
	// upsertBatch bounds one Upsert request: 64 points of 1024 floats and
	// a few KB of payload stay far below gRPC's 4 MB message limit.
	upsertBatch = 64
	// maxLimit caps one search; answers cite a handful of chunks.
	maxLimit = 100
	// metadataModel is the collection metadata key naming the embedder.
	metadataModel = "concierge_embedder"
)

// Payload keys.
const (
	keyID            = "id"
	keyDocumentID    = "document_id"
	keyKind          = "kind"
	keySection       = "section"
	keyTitle         = "title"
	keyText          = "text"
	keyGlobal        = "global"
	keyGuestID       = "guest_id"
	keyListingID     = "listing_id"
	keyReservationID = "reservation_id"
	keyRestricted    = "restricted"
	keyTeamOnly      = "team_only"
)

// payloadIndexes are the keys filters use, with their index type: Qdrant
// needs them for fast filtering, and refuses unindexed filters in strict
// mode (Qdrant Cloud's default).
var payloadIndexes = []struct {
	key string
	typ qc.FieldType
}{
	{keyDocumentID, qc.FieldType_FieldTypeKeyword},
	{keyGlobal, qc.FieldType_FieldTypeBool},
	{keyGuestID, qc.FieldType_FieldTypeKeyword},
	{keyListingID, qc.FieldType_FieldTypeKeyword},
	{keyReservationID, qc.FieldType_FieldTypeKeyword},
	{keyRestricted, qc.FieldType_FieldTypeBool},
	{keyTeamOnly, qc.FieldType_FieldTypeBool},
}

// ErrEmbed marks an error of the embedder rather than of Qdrant
// (errors.Is), so a caller can tell which provider failed: the embeddings
// endpoint (EMBEDDINGS_URL) or Qdrant (QDRANT_URL).
var ErrEmbed = errors.New("embed")

// Embedder turns texts into vectors of Dimensions() floats (0 while unknown:
// New then embeds a probe text to learn it). An embedder that also has
// Model() string gets it recorded in the collection, and a collection made
// by another model is refused.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Dimensions() int
}

// Index is a retrieval.Index on one Qdrant collection.
type Index struct {
	client     *qc.Client
	ownClient  bool
	emb        Embedder
	collection string
	dims       int
}

var _ retrieval.Index = (*Index)(nil)

// FromConfig dials QDRANT_URL and returns the Index on QDRANT_COLLECTION;
// Close closes the connection.
func FromConfig(ctx context.Context, c *config.Config, emb Embedder) (*Index, error) {
	raw := c.URL(SettingURL)
	if raw == "" {
		c.Require(SettingURL)
	}
	key := c.String(SettingAPIKey)
	collection := c.String(SettingCollection)
	if err := c.Err(); err != nil {
		return nil, err
	}
	client, err := Dial(raw, key)
	if err != nil {
		return nil, err
	}
	idx, err := New(ctx, client, emb, collection)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	idx.ownClient = true
	return idx, nil
}

// Dial returns a client for the gRPC endpoint rawURL (http://host:6334, or
// https:// for TLS; the port defaults to 6334). It does not connect yet.
func Dial(rawURL, apiKey string) (*qc.Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fault.Field(SettingURL.Name, "not an absolute http(s) URL")
	}
	port := defaultGRPCPort
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fault.Field(SettingURL.Name, "bad port %q", p)
		}
	}
	if port == 6333 {
		return nil, fault.Field(SettingURL.Name, "6333 is Qdrant's REST port; this client speaks gRPC, usually on 6334")
	}
	client, err := qc.NewClient(&qc.Config{
		Host:   u.Hostname(),
		Port:   port,
		APIKey: apiKey,
		UseTLS: u.Scheme == "https",
		// New's bootstrap is the connectivity check; the version check
		// would cost a round trip per pooled connection at start.
		SkipCompatibilityCheck: true,
	})
	if err != nil {
		return nil, fmt.Errorf("qdrant: client for %s: %w", net.JoinHostPort(u.Hostname(), strconv.Itoa(port)), err)
	}
	return client, nil
}

// New returns the Index on collection (DefaultCollection when empty),
// creating the collection and its payload indexes when missing. An
// existing collection must have the embedder's vector size, cosine distance,
// and, when recorded, the same embedder model. The caller keeps ownership
// of client.
func New(ctx context.Context, client *qc.Client, emb Embedder, collection string) (*Index, error) {
	if client == nil || emb == nil {
		return nil, errors.New("qdrant: New needs a client and an embedder")
	}
	if collection == "" {
		collection = DefaultCollection
	}
	x := &Index{client: client, emb: emb, collection: collection, dims: emb.Dimensions()}
	if x.dims <= 0 {
		vecs, err := emb.Embed(ctx, []string{"dimension probe"})
		if err != nil {
			return nil, fmt.Errorf("qdrant: learn the vector size: %w", err)
		}
		if len(vecs) != 1 || len(vecs[0]) == 0 {
			return nil, errors.New("qdrant: learn the vector size: the embedder returned no vector")
		}
		x.dims = len(vecs[0])
	}
	if err := x.bootstrap(ctx); err != nil {
		return nil, err
	}
	return x, nil
}

// Close closes the client if FromConfig opened it.
func (x *Index) Close() error {
	if x.ownClient {
		return x.client.Close()
	}
	return nil
}

// Collection is the collection's name.
func (x *Index) Collection() string { return x.collection }

func model(emb Embedder) string {
	if m, ok := emb.(interface{ Model() string }); ok {
		return m.Model()
	}
	return ""
}

func (x *Index) bootstrap(ctx context.Context) error {
	exists, err := x.client.CollectionExists(ctx, x.collection)
	if err != nil {
		return classify("check collection "+x.collection, err)
	}
	if !exists {
		req := &qc.CreateCollection{
			CollectionName: x.collection,
			VectorsConfig:  qc.NewVectorsConfig(&qc.VectorParams{Size: uint64(x.dims), Distance: qc.Distance_Cosine}),
		}
		if m := model(x.emb); m != "" {
			req.Metadata = map[string]*qc.Value{metadataModel: qc.NewValueString(m)}
		}
		if err := x.client.CreateCollection(ctx, req); err != nil {
			// Another replica may have won the race.
			again, err2 := x.client.CollectionExists(ctx, x.collection)
			if err2 != nil || !again {
				return classify("create collection "+x.collection, err)
			}
		}
	}
	info, err := x.client.GetCollectionInfo(ctx, x.collection)
	if err != nil {
		return classify("read collection "+x.collection, err)
	}
	params := info.GetConfig().GetParams().GetVectorsConfig().GetParams()
	if params == nil {
		return fault.New(fault.Permanent, "qdrant: collection %s does not have one unnamed vector; name another QDRANT_COLLECTION", x.collection)
	}
	if int(params.GetSize()) != x.dims || params.GetDistance() != qc.Distance_Cosine {
		return fault.New(fault.Permanent, "qdrant: collection %s holds %d-dimension %s vectors, the embedder makes %d-dimension Cosine ones; name another QDRANT_COLLECTION or re-create it",
			x.collection, params.GetSize(), params.GetDistance(), x.dims)
	}
	if have, want := info.GetConfig().GetMetadata()[metadataModel].GetStringValue(), model(x.emb); have != "" && want != "" && have != want {
		return fault.New(fault.Permanent, "qdrant: collection %s holds vectors of %s, the embedder is %s; name another QDRANT_COLLECTION or re-index", x.collection, have, want)
	}
	for _, pi := range payloadIndexes {
		if schema, ok := info.GetPayloadSchema()[pi.key]; ok && schemaMatches(schema.GetDataType(), pi.typ) {
			continue
		}
		_, err := x.client.CreateFieldIndex(ctx, &qc.CreateFieldIndexCollection{
			CollectionName: x.collection,
			Wait:           qc.PtrOf(true),
			FieldName:      pi.key,
			FieldType:      qc.PtrOf(pi.typ),
		})
		if err != nil {
			return classify("create payload index "+pi.key, err)
		}
	}
	return nil
}

func schemaMatches(have qc.PayloadSchemaType, want qc.FieldType) bool {
	switch want {
	case qc.FieldType_FieldTypeKeyword:
		return have == qc.PayloadSchemaType_Keyword
	case qc.FieldType_FieldTypeBool:
		return have == qc.PayloadSchemaType_Bool
	}
	return false
}

// pointNamespace is the UUIDv5 namespace of chunk point ids.
var pointNamespace = [16]byte{0xb7, 0xd0, 0x9d, 0x2d, 0x18, 0x19, 0x4c, 0x91, 0x8a, 0x7f, 0x4c, 0xc2, 0x33, 0x54, 0x8f, 0xb1}

// PointID is the Qdrant point id of a chunk: a UUIDv5 of the document id
// and the chunk id, so re-indexing a document overwrites its points and two
// documents never share one, whatever their chunk ids look like.
func PointID(docID, chunkID string) string {
	h := sha1.New()
	h.Write(pointNamespace[:])
	h.Write([]byte(docID))
	h.Write([]byte{0})
	h.Write([]byte(chunkID))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = (u[6] & 0x0f) | 0x50 // version 5
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexdigits[b>>4], hexdigits[b&0x0f])
	}
	return string(out)
}

// Replace writes chunks as the whole of docID.
//
// It upserts the new points first and then deletes the document's points
// that are not among them. Point ids are derived from the chunk ids, so an
// unchanged chunk is overwritten in place. A failure or crash between the
// two steps leaves the document with its new chunks plus some stale
// extras, never with none: search keeps answering, and the job's retry
// removes the extras. (Deleting first would open a window with no chunks
// at all, and a crash there would lose the document until re-indexed.)
//
// Concurrent Replaces of one document are not serialised here; the job
// outbox runs one vectorize job per document at a time.
func (x *Index) Replace(ctx context.Context, docID string, chunks []retrieval.Chunk) error {
	if docID == "" {
		return fault.Field("document_id", "required")
	}
	if len(chunks) == 0 {
		return x.Delete(ctx, docID)
	}
	seen := make(map[string]bool, len(chunks))
	texts := make([]string, len(chunks))
	for i := range chunks {
		c := &chunks[i]
		switch {
		case c.ID == "":
			return fault.Field("chunks", "chunk %d of %s has no id", i, docID)
		case seen[c.ID]:
			return fault.Field("chunks", "chunk id %s appears twice", c.ID)
		case c.DocumentID != "" && c.DocumentID != docID:
			return fault.Field("chunks", "chunk %s belongs to document %s, not %s", c.ID, c.DocumentID, docID)
		}
		seen[c.ID] = true
		texts[i] = embeddingText(*c)
	}
	vecs, err := x.emb.Embed(ctx, texts)
	if err != nil {
		return fmt.Errorf("qdrant: replace %s: %w: %w", docID, ErrEmbed, err)
	}
	if len(vecs) != len(chunks) {
		return fmt.Errorf("qdrant: replace %s: embedder returned %d vectors for %d chunks", docID, len(vecs), len(chunks))
	}
	keep := make([]*qc.PointId, len(chunks))
	batch := make([]*qc.PointStruct, 0, min(len(chunks), upsertBatch))
	for i, c := range chunks {
		if len(vecs[i]) != x.dims {
			return fault.New(fault.Permanent, "qdrant: replace %s: embedder returned %d dimensions, collection %s has %d", docID, len(vecs[i]), x.collection, x.dims)
		}
		c.DocumentID = docID
		keep[i] = qc.NewIDUUID(PointID(docID, c.ID))
		batch = append(batch, &qc.PointStruct{Id: keep[i], Vectors: qc.NewVectorsDense(vecs[i]), Payload: payload(c)})
		if len(batch) == upsertBatch || i == len(chunks)-1 {
			if _, err := x.client.Upsert(ctx, &qc.UpsertPoints{CollectionName: x.collection, Wait: qc.PtrOf(true), Points: batch}); err != nil {
				return classify("replace "+docID+": upsert", err)
			}
			batch = batch[:0]
		}
	}
	stale := &qc.Filter{
		Must:    []*qc.Condition{qc.NewMatchKeyword(keyDocumentID, docID)},
		MustNot: []*qc.Condition{qc.NewHasID(keep...)},
	}
	if _, err := x.client.Delete(ctx, &qc.DeletePoints{CollectionName: x.collection, Wait: qc.PtrOf(true), Points: qc.NewPointsSelectorFilter(stale)}); err != nil {
		return classify("replace "+docID+": delete stale chunks", err)
	}
	logging.From(ctx).Debug().Str("document_id", docID).Int("chunks", len(chunks)).Msg("qdrant: document indexed")
	return nil
}

// embeddingText is what a chunk's vector stands for: its title says which
// listing and section the text is about.
func embeddingText(c retrieval.Chunk) string {
	if c.Title == "" {
		return c.Text
	}
	return c.Title + "\n\n" + c.Text
}

func payload(c retrieval.Chunk) map[string]*qc.Value {
	p := map[string]*qc.Value{
		keyID:         qc.NewValueString(c.ID),
		keyDocumentID: qc.NewValueString(c.DocumentID),
		keyKind:       qc.NewValueString(c.Kind),
		keySection:    qc.NewValueString(c.Section),
		keyTitle:      qc.NewValueString(c.Title),
		keyText:       qc.NewValueString(c.Text),
		keyGlobal:     qc.NewValueBool(c.Owner.Global),
		keyRestricted: qc.NewValueBool(c.Restricted),
		keyTeamOnly:   qc.NewValueBool(c.TeamOnly),
	}
	for k, v := range map[string]string{keyGuestID: c.Owner.GuestID, keyListingID: c.Owner.ListingID, keyReservationID: c.Owner.ReservationID} {
		if v != "" {
			p[k] = qc.NewValueString(v)
		}
	}
	return p
}

// Delete removes every point of docID.
func (x *Index) Delete(ctx context.Context, docID string) error {
	if docID == "" {
		return fault.Field("document_id", "required")
	}
	f := &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword(keyDocumentID, docID)}}
	if _, err := x.client.Delete(ctx, &qc.DeletePoints{CollectionName: x.collection, Wait: qc.PtrOf(true), Points: qc.NewPointsSelectorFilter(f)}); err != nil {
		return classify("delete "+docID, err)
	}
	return nil
}

// Search returns the chunks nearest to query among those scope may see. A
// blank query, or one the embedder maps to the zero vector, finds nothing.
func (x *Index) Search(ctx context.Context, scope retrieval.Scope, query string, limit int) ([]retrieval.Hit, error) {
	if limit <= 0 || strings.TrimSpace(query) == "" {
		return nil, nil
	}
	limit = min(limit, maxLimit)
	vecs, err := x.emb.Embed(ctx, []string{query})
	if err != nil {
		return nil, fmt.Errorf("qdrant: search: %w: %w", ErrEmbed, err)
	}
	if len(vecs) != 1 || len(vecs[0]) != x.dims {
		return nil, fault.New(fault.Permanent, "qdrant: search: embedder returned no %d-dimension vector", x.dims)
	}
	if isZero(vecs[0]) {
		return nil, nil
	}
	points, err := x.client.Query(ctx, &qc.QueryPoints{
		CollectionName: x.collection,
		Query:          qc.NewQueryDense(vecs[0]),
		Filter:         scopeFilter(scope),
		Limit:          qc.PtrOf(uint64(limit)),
		WithPayload:    qc.NewWithPayload(true),
	})
	if err != nil {
		return nil, classify("search", err)
	}
	hits := make([]retrieval.Hit, 0, len(points))
	for _, p := range points {
		c := chunkOf(p.GetPayload())
		// Defence in depth: the filter already applied the rule; a point
		// that slips through (a payload written by hand, a filter bug) is
		// dropped and reported, never returned.
		if !scope.Visible(c) {
			logging.From(ctx).Error().Str("chunk_id", c.ID).Msg("qdrant: search returned a chunk outside the scope; dropped")
			continue
		}
		hits = append(hits, retrieval.Hit{Chunk: c, Score: float64(p.GetScore())})
	}
	return hits, nil
}

// scopeFilter is retrieval.Scope.Visible in Qdrant's filter language:
//
//	must:     restricted = false                      (unless s.Restricted)
//	must_not: team_only = true                        (unless s.Team)
//	should:   global = true
//	          guest_id = s.GuestID and (reservation_id is empty
//	                                    or reservation_id in s.ReservationIDs)
//	          guest_id is empty and listing_id in s.ListingIDs
//
// A should clause that cannot match (no guest, no listings) is left out, so
// the empty scope is "global = true" alone. Points always carry global and
// restricted, so a point missing them matches neither "global = true" nor
// "restricted = false": it fails closed. team_only is excluded with
// must_not rather than required false, so a point written before audiences
// existed (no team_only: guest content) stays visible to guests; chunkOf
// reads such a point the same way, and anything but a boolean as team-only.
func scopeFilter(s retrieval.Scope) *qc.Filter {
	f := &qc.Filter{Should: []*qc.Condition{qc.NewMatchBool(keyGlobal, true)}}
	if !s.Restricted {
		f.Must = append(f.Must, qc.NewMatchBool(keyRestricted, false))
	}
	if !s.Team {
		f.MustNot = append(f.MustNot, qc.NewMatchBool(keyTeamOnly, true))
	}
	if s.GuestID != "" {
		reservation := &qc.Filter{Should: []*qc.Condition{qc.NewIsEmpty(keyReservationID)}}
		if ids := nonEmpty(s.ReservationIDs); len(ids) > 0 {
			reservation.Should = append(reservation.Should, qc.NewMatchKeywords(keyReservationID, ids...))
		}
		f.Should = append(f.Should, qc.NewFilterAsCondition(&qc.Filter{Must: []*qc.Condition{
			qc.NewMatchKeyword(keyGuestID, s.GuestID),
			qc.NewFilterAsCondition(reservation),
		}}))
	}
	if ids := nonEmpty(s.ListingIDs); len(ids) > 0 {
		f.Should = append(f.Should, qc.NewFilterAsCondition(&qc.Filter{Must: []*qc.Condition{
			qc.NewIsEmpty(keyGuestID),
			qc.NewMatchKeywords(keyListingID, ids...),
		}}))
	}
	return f
}

// nonEmpty drops "" ids: stored payloads never hold an empty key, and
// Visible never matches one.
func nonEmpty(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

func chunkOf(p map[string]*qc.Value) retrieval.Chunk {
	str := func(k string) string { return p[k].GetStringValue() }
	return retrieval.Chunk{
		ID:         str(keyID),
		DocumentID: str(keyDocumentID),
		Kind:       str(keyKind),
		Section:    str(keySection),
		Title:      str(keyTitle),
		Text:       str(keyText),
		Owner: retrieval.Owner{
			Global:        p[keyGlobal].GetBoolValue(),
			GuestID:       str(keyGuestID),
			ListingID:     str(keyListingID),
			ReservationID: str(keyReservationID),
		},
		// A point without the flag is treated as restricted: fail closed.
		Restricted: p[keyRestricted] == nil || p[keyRestricted].GetBoolValue(),
		TeamOnly:   teamOnly(p[keyTeamOnly]),
	}
}

// teamOnly reads the team_only payload value: missing or null is a point
// written before audiences existed (guest content), a boolean is itself,
// anything else is not ours to guess and counts as team-only.
func teamOnly(v *qc.Value) bool {
	switch k := v.GetKind().(type) {
	case nil, *qc.Value_NullValue:
		return false
	case *qc.Value_BoolValue:
		return k.BoolValue
	}
	return true
}

func isZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// classify gives a Qdrant error the kind that decides whether the job is
// retried: transport trouble and overload are Unavailable, refusals are
// Permanent.
func classify(op string, err error) error {
	err = fmt.Errorf("qdrant: %s: %w", op, err)
	switch status.Code(err) {
	case codes.Canceled:
		return err
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.Unauthenticated, codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented:
		return fault.Wrap(fault.Permanent, err, "retrieval index refused the request")
	}
	return fault.Wrap(fault.Unavailable, err, "retrieval index unavailable")
}
