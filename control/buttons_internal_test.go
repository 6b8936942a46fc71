package control

import "testing"

// Who is obeyed: a chat in allow; in a group, when allow names users too, only they.
func TestAllowed(t *testing.T) {
	t.Parallel()
	const group, ann, bob = int64(-1001234), int64(42), int64(43)
	for _, tt := range []struct {
		allow      []int64
		chat, user int64
		want       bool
	}{
		{[]int64{ann}, ann, ann, true},
		{[]int64{ann}, bob, bob, false},
		{[]int64{group}, group, bob, true},       // only groups: everyone in them
		{[]int64{group, ann}, group, ann, true},  // groups and users: the users
		{[]int64{group, ann}, group, bob, false}, // and no one else
		{[]int64{ann}, group, ann, false},        // a user, in a group not allowed
		{[]int64{group, ann}, int64(-100999), ann, false},
	} {
		c := &Commands{Allow: map[int64]bool{}}
		for _, id := range tt.allow {
			c.Allow[id] = true
		}
		if got := c.allowed(tt.chat, tt.user); got != tt.want {
			t.Errorf("allow %v: chat %d, user %d: %v, want %v", tt.allow, tt.chat, tt.user, got, tt.want)
		}
	}
}
