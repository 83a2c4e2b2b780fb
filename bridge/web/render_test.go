package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestRenderPooledBuffers: pages rendered one after another and at once, from buffers used
// before, are each exactly the page rendered alone (nothing of an earlier page is left in a
// reused buffer, and no response shares one with another).
func TestRenderPooledBuffers(t *testing.T) {
	r, err := NewRenderer(Brand{Name: "Test Association"})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	render := func(i int) string {
		rec := httptest.NewRecorder()
		c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
		// Pages of different lengths: a long message, then short ones, reuse its buffer.
		msg := fmt.Sprintf("message %d %0*d", i, (i%3)*2000, 0)
		if err := r.Error(c, http.StatusBadRequest, "Heading", msg, ""); err != nil {
			t.Error(err)
		}
		return rec.Body.String()
	}
	want := make([]string, 12)
	for i := range want {
		want[i] = render(i)
	}
	for round := range 3 {
		var wg sync.WaitGroup
		for i := range want {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if got := render(i); got != want[i] {
					t.Errorf("round %d page %d: %d bytes, want %d (a reused buffer leaked into it)", round, i, len(got), len(want[i]))
				}
			}()
		}
		wg.Wait()
	}
}
