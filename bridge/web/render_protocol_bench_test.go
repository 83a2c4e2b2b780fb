package web

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/labstack/echo/v4"
)

// BenchmarkProtocolErrorPage: one refused authorization request's page (sso.Config.ErrorPage).
func BenchmarkProtocolErrorPage(b *testing.B) {
	r, err := NewRenderer(Brand{Name: "Test Association"})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/authorize?client_id=x", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		r.ProtocolErrorPage(w, req, http.StatusBadRequest, "redirect_uri is not registered")
	}
}

// BenchmarkNewRenderer: what building the renderer allocates, and what it keeps live
// (retained-B/op: the heap it holds after a collection).
func BenchmarkNewRenderer(b *testing.B) {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	keep := make([]*Renderer, 0, b.N)
	for b.Loop() {
		r, err := NewRenderer(Brand{Name: "Test Association"})
		if err != nil {
			b.Fatal(err)
		}
		keep = append(keep, r)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(keep)), "retained-B/op")
	runtime.KeepAlive(keep)
}

// BenchmarkEchoNew: what echo.New() alone allocates and keeps (what the renderer held for
// ProtocolErrorPage's contexts).
func BenchmarkEchoNew(b *testing.B) {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	keep := make([]*echo.Echo, 0, b.N)
	for b.Loop() {
		keep = append(keep, echo.New())
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(keep)), "retained-B/op")
	runtime.KeepAlive(keep)
}
