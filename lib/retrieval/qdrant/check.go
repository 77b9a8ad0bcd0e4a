package qdrant

import (
	"context"
	"fmt"
	"sort"
	"strings"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Inspection is what Inspect read of a collection. Unlike New, Inspect
// creates nothing: `concierge doctor` reports what New would find.
type Inspection struct {
	Collection string
	Exists     bool
	// Unnamed: the collection has one unnamed dense vector, as New makes.
	Unnamed bool
	// Size and Distance of that vector.
	Size     int
	Distance string
	// Model is the embedder recorded in the collection's metadata ("" when
	// none is).
	Model string
	// Points counts the points stored.
	Points uint64
	// Indexed are the payload indexes New creates that the collection has
	// with the right type; Missing the others, as "key (type)".
	Indexed, Missing []string
}

// PayloadIndexes lists the payload indexes New creates, as "key (type)".
func PayloadIndexes() []string {
	out := make([]string, len(payloadIndexes))
	for i, pi := range payloadIndexes {
		out[i] = indexName(pi.key, pi.typ)
	}
	return out
}

func indexName(key string, typ qc.FieldType) string {
	return fmt.Sprintf("%s (%s)", key, strings.ToLower(strings.TrimPrefix(typ.String(), "FieldType")))
}

// Inspect reads collection's configuration and payload schema through
// read-only calls.
func Inspect(ctx context.Context, client *qc.Client, collection string) (Inspection, error) {
	if collection == "" {
		collection = DefaultCollection
	}
	in := Inspection{Collection: collection}
	exists, err := client.CollectionExists(ctx, collection)
	if err != nil {
		return in, classify("check collection "+collection, err)
	}
	if !exists {
		return in, nil
	}
	in.Exists = true
	info, err := client.GetCollectionInfo(ctx, collection)
	if err != nil {
		return in, classify("read collection "+collection, err)
	}
	if params := info.GetConfig().GetParams().GetVectorsConfig().GetParams(); params != nil {
		in.Unnamed = true
		in.Size = int(params.GetSize())
		in.Distance = params.GetDistance().String()
	}
	in.Model = info.GetConfig().GetMetadata()[metadataModel].GetStringValue()
	in.Points = info.GetPointsCount()
	for _, pi := range payloadIndexes {
		name := indexName(pi.key, pi.typ)
		if schema, ok := info.GetPayloadSchema()[pi.key]; ok && schemaMatches(schema.GetDataType(), pi.typ) {
			in.Indexed = append(in.Indexed, name)
		} else {
			in.Missing = append(in.Missing, name)
		}
	}
	sort.Strings(in.Missing)
	return in, nil
}

// VectorsMismatch says why New would refuse the collection for an embedder
// of dims-dimension vectors named model ("" for any model), or "" when it
// would accept it.
func (in Inspection) VectorsMismatch(dims int, model string) string {
	switch {
	case !in.Exists:
		return ""
	case !in.Unnamed:
		return fmt.Sprintf("collection %s does not have one unnamed vector", in.Collection)
	case in.Size != dims || in.Distance != qc.Distance_Cosine.String():
		return fmt.Sprintf("collection %s holds %d-dimension %s vectors, the embedder makes %d-dimension Cosine ones", in.Collection, in.Size, in.Distance, dims)
	case in.Model != "" && model != "" && in.Model != model:
		return fmt.Sprintf("collection %s holds vectors of %s, the embedder is %s", in.Collection, in.Model, model)
	}
	return ""
}

// AuthFailed reports whether Qdrant refused the API key (QDRANT_API_KEY).
func AuthFailed(err error) bool {
	switch status.Code(err) {
	case codes.Unauthenticated, codes.PermissionDenied:
		return true
	}
	return false
}
