package notifier_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/supervise/supervise/notifier/telegramtest"
)

// The spooling notifier says how deliveries went: what was sent and when, what waits,
// and which chat refuses messages for good, until a message reaches it again.
func TestDeliveryStatus(t *testing.T) {
	t.Parallel()
	srv := telegramtest.NewServer(tgToken, tgChat)
	defer srv.Close()
	wrong, dir, stderr, _ := keptForUnknownChat(t, srv)
	wrong.Notify(context.Background(), failed("kept too"))
	st, _ := wrong.Delivery()
	if st.Spooled != 2 || st.Results["failed"] != 2 || st.Results["sent"] != 0 || len(st.Permanent) != 1 ||
		!strings.Contains(st.Permanent[0], "chat 777") || !strings.Contains(st.Permanent[0], "chat not found") ||
		!st.LastDelivery.IsZero() || st.LastErrorAt.IsZero() {
		t.Errorf("with a wrong chat: %+v; want two waiting, two failures, chat 777 refusing", st)
	}
	if strings.Contains(st.LastError+strings.Join(st.Permanent, ""), tgToken) {
		t.Error("the status shows the token")
	}

	fixed := spooling(t, srv, tgToken, dir, stderr)
	if err := fixed.Notify(context.Background(), failed("new")); err != nil {
		t.Fatal(err)
	}
	st, _ = fixed.Delivery()
	if st.Spooled != 0 || st.Results["sent"] != 3 || len(st.Permanent) != 0 || time.Since(st.LastDelivery) > time.Minute {
		t.Errorf("once fixed: %+v; want all three sent, nothing waiting, no chat refusing", st)
	}
}
