// Command cfmock answers the one Cloudflare API call `terraform plan` makes
// for terraform/: the zone lookup of data "cloudflare_zone" (GET
// /client/v4/zones?name=ZONE). It serves HTTPS on loopback with a
// certificate it makes at start (written to -cert for SSL_CERT_FILE),
// writes its address to -addr, and logs every request it sees to -log, one
// "METHOD PATH?QUERY STATUS" line each, so .ci/terraform-plan can assert
// that the plan asked for nothing else. Any other request gets the 404
// Cloudflare answers with its error envelope.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

func main() {
	zone := flag.String("zone", "example.com", "the zone the mock knows")
	certFile := flag.String("cert", "", "where to write the CA certificate (PEM)")
	addrFile := flag.String("addr", "", "where to write host:port once listening")
	logFile := flag.String("log", "", "where to append one line per request")
	flag.Parse()
	if *certFile == "" || *addrFile == "" || *logFile == "" {
		log.Fatal("cfmock: -cert, -addr and -log are required")
	}
	cert, pemBytes, err := selfSigned()
	if err != nil {
		log.Fatalf("cfmock: certificate: %v", err)
	}
	if err := os.WriteFile(*certFile, pemBytes, 0o644); err != nil {
		log.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		log.Fatal(err)
	}
	lf, err := os.OpenFile(*logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	record := func(r *http.Request, status int) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(lf, "%s %s %d\n", r.Method, r.URL.RequestURI(), status)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet && r.URL.Path == "/client/v4/zones" && r.URL.Query().Get("name") == *zone {
			record(r, http.StatusOK)
			_ = json.NewEncoder(w).Encode(map[string]any{
				"success": true, "errors": []any{}, "messages": []any{},
				"result": []any{map[string]any{
					"id": "023e105f4ecef8ad9ca31a8372d0c353", "name": *zone, "status": "active", "paused": false,
					"type": "full", "name_servers": []string{"ns1.example.net", "ns2.example.net"},
					"account": map[string]any{"id": "0123456789abcdef0123456789abcdef", "name": "rehearsal"},
					"plan":    map[string]any{"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website", "legacy_id": "free"},
				}},
				"result_info": map[string]any{"page": 1, "per_page": 50, "count": 1, "total_count": 1, "total_pages": 1},
			})
			return
		}
		record(r, http.StatusNotFound)
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]any{"success": false, "messages": []any{}, "result": nil,
			"errors": []any{map[string]any{"code": 7003, "message": "Could not route to " + r.URL.Path + ", perhaps your object identifier is invalid?"}}})
	})
	if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Fatal((&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(ln))
}

// selfSigned makes a certificate for 127.0.0.1 that is its own CA, so the
// provider trusts it through SSL_CERT_FILE alone.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cfmock"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
