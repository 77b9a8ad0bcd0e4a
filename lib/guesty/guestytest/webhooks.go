package guestytest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Shape is one of the inner shapes of a v2 reservation event that
// integrators report; Guesty's own reference did not settle it.
type Shape int

const (
	// ShapeReservationID: data.reservationId beside data.reservation._id.
	ShapeReservationID Shape = iota
	// ShapeNestedID: data.reservation.id (no underscore).
	ShapeNestedID
	// ShapeDataID: data.id, the reservation's fields directly in data.
	ShapeDataID
)

// Shapes lists every shape, for table tests.
var Shapes = []Shape{ShapeReservationID, ShapeNestedID, ShapeDataID}

func (s Shape) String() string {
	switch s {
	case ShapeReservationID:
		return "data.reservationId"
	case ShapeNestedID:
		return "data.reservation.id"
	case ShapeDataID:
		return "data.id"
	}
	return "shape(" + strconv.Itoa(int(s)) + ")"
}

// ReservationEventV2 returns the body of a lean v2 reservation event
// (event "reservation.created.v2" or "reservation.updated.v2") naming
// reservation id in shape, carrying fields (such as status) and stamped
// publishedAt.
func ReservationEventV2(event, id string, shape Shape, fields map[string]any, publishedAt time.Time) []byte {
	res := map[string]any{}
	for k, v := range fields {
		res[k] = v
	}
	var data map[string]any
	switch shape {
	case ShapeReservationID:
		res["_id"] = id
		data = map[string]any{"reservationId": id, "reservation": res}
	case ShapeNestedID:
		res["id"] = id
		data = map[string]any{"reservation": res}
	case ShapeDataID:
		res["id"] = id
		data = res
	}
	body, err := json.Marshal(map[string]any{
		"event": event, "publishedAt": Stamp(publishedAt), "subtype": subtype(fields), "data": data,
	})
	if err != nil {
		panic(err)
	}
	return body
}

func subtype(fields map[string]any) string {
	if _, ok := fields["status"]; ok {
		return "status"
	}
	return "details"
}

// Sign returns the Svix headers Guesty sends with body: secret is the
// endpoint's whsec_ secret.
func Sign(secret, msgID string, at time.Time, body []byte) http.Header {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic("guestytest: secret is not whsec_<base64>")
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", msgID, ts, body)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("svix-id", msgID)
	h.Set("svix-timestamp", ts)
	h.Set("svix-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return h
}
