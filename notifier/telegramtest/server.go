package telegramtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Message is a message the Server accepted, as the client sent it and, where it was
// edited since, as it is now.
type Message struct {
	ID                  int64
	ChatID              int64
	ThreadID            int64  // message_thread_id, or 0
	Text                string // as sent or last edited, markup included
	ParseMode           string // of Text
	DisableNotification bool
	NoLinkPreview       bool // link_preview_options.is_disabled or disable_web_page_preview
	// ReplyTo is the message it replies to, or 0: none was asked for, or the one asked
	// for was not there and allow_sending_without_reply let it go without.
	ReplyTo int64
	// Buttons is its inline keyboard now, by rows; nil for none.
	Buttons [][]Button
	// Edits counts the edits that changed it, of its text or of its buttons.
	Edits int
	// Deleted is set by DeleteMessage: the message is no longer in the chat.
	Deleted bool
}

// clone returns m with a copy of its buttons, so that a test cannot change the server's.
func (m Message) clone() Message {
	if m.Buttons != nil {
		rows := make([][]Button, len(m.Buttons))
		for i, row := range m.Buttons {
			rows[i] = append([]Button(nil), row...)
		}
		m.Buttons = rows
	}
	return m
}

// Document is a file the Server accepted with sendDocument, as the client sent it.
type Document struct {
	ID                  int64
	ChatID              int64
	ThreadID            int64  // message_thread_id, or 0
	Name                string // the file part's filename, as sent
	MIMEType            string // the file part's Content-Type, as sent
	Content             []byte
	Caption, ParseMode  string // caption as sent, markup included
	DisableNotification bool
}

// MaxDocumentSize is the largest file the Bot API takes from a bot, 50 MB; it answers
// a larger upload with 413 Request Entity Too Large.
const MaxDocumentSize = 50 << 20

// MaxCaptionLength is the most a caption may hold after entity parsing, in UTF-16
// code units.
const MaxCaptionLength = 1024

// Fault is a scripted answer to one request, in place of the normal one.
type Fault struct {
	// Status is the HTTP status and error_code to answer with, such as 429 or 502;
	// zero means 500.
	Status int
	// RetryAfter, with status 429, is the number of seconds the answer asks the client
	// to wait, in its description and in parameters.retry_after.
	RetryAfter int
	// Description replaces the description the API gives for Status.
	Description string
	// Body, if set, is sent as it is instead of the API's JSON, as a proxy in front of
	// the API answers (an HTML error page, say).
	Body string
	// Stall holds the request without an answer until the client gives up or the
	// server closes.
	Stall bool
	// Taken has the server first take the request as it would without the fault (a
	// message is kept) and then answer with the fault, which does not say so: as
	// when a proxy or the link loses Telegram's answer. The client cannot know the
	// message arrived.
	Taken bool
	// Trickle, when set, has the server take the request and send its normal
	// answer, status line and headers included, one byte every Trickle, as over a
	// link that barely moves. The other fields are not used.
	Trickle time.Duration
}

// Server is a fake Telegram Bot API on a loopback port. It is safe for concurrent use.
type Server struct {
	srv   *httptest.Server
	token string
	chats map[int64]bool

	closing   chan struct{} // closed by Close, to release stalled requests
	closeOnce sync.Once

	mu        sync.Mutex
	limit     time.Duration       // one message per chat per limit; 0 for no limit
	lastSent  map[int64]time.Time // by chat, with a limit
	throttled int
	faults    []Fault
	requests  int
	lastID    int64 // the last message_id given, to a message or a document
	messages  []Message
	arrivals  chan time.Time // when each message was accepted, for Arrivals
	documents []Document
	sent      map[int64]*sent // every message and document, by message_id

	// The callback queries Press has made, by id: true once answered.
	queries   map[string]bool
	lastQuery int64
	answers   []Answer

	// The bot's pending updates, oldest first, for getUpdates.
	updates      []pendingUpdate
	lastUpdateID int64
	updateAdded  chan struct{} // closed and replaced by AddUpdate, to wake long polls
	webhook      string
	polling      chan struct{} // closed to end the long poll waiting now, for a newer one
	waiting      int           // long polls waiting for an update now
}

// BotUsername is the username getMe gives the bot.
const BotUsername = "supervise_test_bot"

// NewServer starts a Server that knows one bot, by its token, and the chats it may
// send to.
func NewServer(token string, chats ...int64) *Server {
	s := &Server{token: token, chats: map[int64]bool{}, closing: make(chan struct{}),
		sent: map[int64]*sent{}, queries: map[string]bool{}}
	for _, id := range chats {
		s.chats[id] = true
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the base URL to give a client in place of https://api.telegram.org.
func (s *Server) URL() string { return s.srv.URL }

// Close releases stalled requests and shuts the server down.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.srv.Close()
}

// Fail queues faults: each answers one of the next requests, in order, whatever
// the request is.
func (s *Server) Fail(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// ClearFaults drops the faults queued by Fail that no request has met yet: the API
// is well again.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Limit makes the server accept at most one message per every to each chat, and
// answer 429 Too Many Requests to the others, as Telegram does. A document counts as
// a message, and so does an edit: Telegram's flood control counts them too.
func (s *Server) Limit(every time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit, s.lastSent = every, map[int64]time.Time{}
}

// Throttled counts the messages, documents and edits the server answered with 429
// because of Limit.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// Requests counts every request the server has received, faults and errors included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Messages returns the messages the server has accepted, oldest first, each as it is
// now: edited, or deleted.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs := make([]Message, len(s.messages))
	for i, m := range s.messages {
		msgs[i] = m.clone()
	}
	return msgs
}

// Arrivals returns a channel that gets the time the server accepts each message from
// now on, for benchmarks of latency: a wait on it takes no CPU from what is measured,
// as a loop calling Messages would. It holds size of them; later ones are not sent.
func (s *Server) Arrivals(size int) <-chan time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.arrivals = make(chan time.Time, size)
	return s.arrivals
}

// Documents returns the documents the server has accepted, oldest first, as copies:
// a test may change their contents without changing the server's.
func (s *Server) Documents() []Document {
	s.mu.Lock()
	defer s.mu.Unlock()
	docs := make([]Document, len(s.documents))
	for i, d := range s.documents {
		d.Content = bytes.Clone(d.Content)
		docs[i] = d
	}
	return docs
}

// response is the envelope of every Bot API answer.
type response struct {
	OK          bool            `json:"ok"`
	Result      any             `json:"result,omitempty"`
	ErrorCode   int             `json:"error_code,omitempty"`
	Description string          `json:"description,omitempty"`
	Parameters  *responseParams `json:"parameters,omitempty"`
}

type responseParams struct {
	RetryAfter int `json:"retry_after,omitempty"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	var fault *Fault
	if len(s.faults) > 0 {
		fault = &s.faults[0]
		s.faults = s.faults[1:]
	}
	s.mu.Unlock()
	if fault != nil {
		s.fail(w, r, *fault)
		return
	}
	s.answer(w, r)
}

// answer answers r as the API would.
func (s *Server) answer(w http.ResponseWriter, r *http.Request) {
	// The API's paths are /bot<token>/<method>, with the method name case-insensitive.
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		drain(r)
		writeError(w, http.StatusNotFound, "Not Found", 0)
		return
	}
	if token != s.token {
		drain(r)
		writeError(w, http.StatusUnauthorized, "Unauthorized", 0)
		return
	}
	switch strings.ToLower(method) {
	case "sendmessage":
		s.sendMessage(w, r)
	case "senddocument":
		s.sendDocument(w, r)
	case "getupdates":
		s.getUpdates(w, r)
	case "editmessagetext":
		s.editMessageText(w, r)
	case "editmessagereplymarkup":
		s.editMessageReplyMarkup(w, r)
	case "answercallbackquery":
		s.answerCallbackQuery(w, r)
	case "getme":
		drain(r)
		id, _, _ := strings.Cut(s.token, ":")
		n, _ := strconv.ParseInt(id, 10, 64)
		writeJSON(w, http.StatusOK, response{OK: true, Result: map[string]any{
			"id": n, "is_bot": true, "first_name": "supervise test", "username": BotUsername}})
	default:
		drain(r)
		writeError(w, http.StatusNotFound, "Not Found", 0)
	}
}

// drain reads what is left of a request's body before an answer that does not need
// it. Go's server closes a connection with more than 256 KiB unread, and a client
// still sending a large upload then sees a broken connection instead of the answer,
// or the one or the other depending on timing: a fake must answer the same way each
// time.
func drain(r *http.Request) {
	io.Copy(io.Discard, r.Body)
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, f Fault) {
	if f.Trickle > 0 {
		s.trickle(w, r, f.Trickle)
		return
	}
	if f.Taken {
		s.answer(httptest.NewRecorder(), r) // the answer is lost
	}
	if f.Stall {
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		// Drop the connection: a stalled server never answers.
		panic(http.ErrAbortHandler)
	}
	drain(r)
	if f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	if f.Body != "" {
		w.WriteHeader(f.Status)
		fmt.Fprint(w, f.Body)
		return
	}
	desc := f.Description
	if desc == "" {
		switch {
		case f.Status == http.StatusTooManyRequests:
			desc = fmt.Sprintf("Too Many Requests: retry after %d", f.RetryAfter)
		case f.Status == http.StatusBadRequest:
			desc = "Bad Request"
		default:
			desc = http.StatusText(f.Status)
		}
	}
	writeError(w, f.Status, desc, f.RetryAfter)
}

// trickle answers r as the API would, a byte at a time with a pause of every before
// each, from the first byte of the status line on: a client waits for all of it, or
// gives up.
func (s *Server) trickle(w http.ResponseWriter, r *http.Request, every time.Duration) {
	rec := httptest.NewRecorder()
	s.answer(rec, r)
	resp := rec.Result()
	resp.ContentLength, resp.Close = int64(rec.Body.Len()), true
	var raw bytes.Buffer
	resp.Write(&raw)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for _, b := range raw.Bytes() {
		select {
		case <-tick.C:
		case <-s.closing:
			return
		}
		if _, err := conn.Write([]byte{b}); err != nil {
			return // the client gave up
		}
	}
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request) {
	p, err := params(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	m := Message{
		Text:                p["text"],
		ParseMode:           p["parse_mode"],
		DisableNotification: p["disable_notification"] == "true",
	}
	if m.NoLinkPreview, err = noLinkPreview(p); err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	if m.Buttons, err = keyboard(p["reply_markup"]); err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	reply, err := replyOf(p)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	if m.ChatID, m.ThreadID, err = s.destination(p); err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	plain, err := parsed(m.Text, m.ParseMode)
	if err == nil {
		err = checkLength(plain)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}

	var date time.Time
	check := func() string {
		if reply.messageID == 0 {
			return ""
		}
		if target, ok := s.sent[reply.messageID]; ok && target.chat == m.ChatID && !target.deleted {
			m.ReplyTo = reply.messageID
			return ""
		}
		if reply.withoutReply {
			return ""
		}
		return "message to be replied not found"
	}
	keep := func(id int64) {
		m.ID, date = id, time.Now()
		s.sent[id] = &sent{chat: m.ChatID, date: date, msg: len(s.messages)}
		s.messages = append(s.messages, m)
		select {
		case s.arrivals <- date:
		default:
		}
	}
	if !s.admit(w, m.ChatID, check, keep) {
		return
	}
	writeJSON(w, http.StatusOK, response{OK: true, Result: messageResult(m, date, plain)})
}

// sent is where the server keeps a message or document it accepted.
type sent struct {
	chat    int64
	date    time.Time
	msg     int // the index of the message in messages, or -1 for a document
	deleted bool
}

// messageResult is the Message object the API answers a text message's sending or
// editing with: the fields a client reads, not all of them.
func messageResult(m Message, date time.Time, plain string) map[string]any {
	result := map[string]any{
		"message_id": m.ID,
		"date":       date.Unix(),
		"chat":       map[string]any{"id": m.ChatID, "type": chatType(m.ChatID)},
		"text":       strings.TrimSpace(plain),
	}
	if m.ThreadID != 0 {
		result["message_thread_id"] = m.ThreadID
	}
	if m.ReplyTo != 0 {
		result["reply_to_message"] = map[string]any{
			"message_id": m.ReplyTo,
			"chat":       result["chat"],
		}
	}
	if m.Buttons != nil {
		result["reply_markup"] = markupJSON(m.Buttons)
	}
	return result
}

// destination reads where a message or document goes, chat_id and
// message_thread_id, as the API does; an error is the description of its 400 after
// "Bad Request: ".
func (s *Server) destination(p map[string]string) (chat, thread int64, err error) {
	if p["chat_id"] == "" {
		return 0, 0, errors.New("chat_id is empty")
	}
	// A chat_id that is not a number is a @username, which this fake never knows.
	chat, err = strconv.ParseInt(p["chat_id"], 10, 64)
	if err != nil || !s.chats[chat] {
		return 0, 0, errors.New("chat not found")
	}
	if t := p["message_thread_id"]; t != "" {
		if thread, err = strconv.ParseInt(t, 10, 64); err != nil {
			return 0, 0, errors.New("invalid message thread identifier specified")
		}
	}
	return chat, thread, nil
}

// parsed returns text as Telegram shows it once parsed in parseMode; an error is the
// description of the API's 400 after "Bad Request: ". This fake does not parse
// Markdown: such text is taken as it is.
func parsed(text, parseMode string) (string, error) {
	switch parseMode {
	case "", "Markdown", "MarkdownV2":
		return text, nil
	case "HTML", "html":
		return parseHTML(text)
	}
	return "", errors.New("unsupported parse_mode")
}

// throttle applies Limit to a message or document to chat, with s.mu held: it returns
// 0 and counts the message as sent, or the seconds the client must wait, as Telegram
// does for a chat written to too fast.
func (s *Server) throttle(chat int64) (wait int) {
	if s.limit <= 0 {
		return 0
	}
	if next := s.lastSent[chat].Add(s.limit); time.Now().Before(next) {
		s.throttled++
		return int(time.Until(next)/time.Second) + 1
	}
	s.lastSent[chat] = time.Now()
	return 0
}

// upload is a file sent in a multipart/form-data request.
type upload struct {
	name, mimeType string
	content        []byte
}

// errTooLarge is an upload over MaxDocumentSize.
var errTooLarge = errors.New("request entity too large")

// sendDocument accepts an uploaded file, which is the only way this fake takes a
// document: it knows no file_id and fetches no URL. It checks what the Bot API checks,
// in about the order it does: the size of the request first (its proxy does that), the
// arguments, then the chat, then what Telegram's servers refuse.
func (s *Server) sendDocument(w http.ResponseWriter, r *http.Request) {
	p, files, err := uploadParams(r)
	if errors.Is(err, errTooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large", 0)
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	file, ok := files["document"]
	switch {
	case !ok && p["document"] != "":
		// A file_id or a URL, which the real API would look up or fetch.
		writeError(w, http.StatusBadRequest, "Bad Request: wrong remote file identifier specified: Wrong character in the string", 0)
		return
	case !ok:
		writeError(w, http.StatusBadRequest, "Bad Request: there is no document in the request", 0)
		return
	}
	d := Document{
		Name:                file.name,
		MIMEType:            file.mimeType,
		Content:             file.content,
		Caption:             p["caption"],
		ParseMode:           p["parse_mode"],
		DisableNotification: p["disable_notification"] == "true",
	}

	caption, err := parsed(d.Caption, d.ParseMode)
	if err == nil {
		d.ChatID, d.ThreadID, err = s.destination(p)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	caption = strings.TrimFunc(caption, unicode.IsSpace)
	if len(d.Content) == 0 {
		writeError(w, http.StatusBadRequest, "Bad Request: file must be non-empty", 0)
		return
	}
	if utf16Len(caption) > MaxCaptionLength {
		writeError(w, http.StatusBadRequest, "Bad Request: message caption is too long", 0)
		return
	}

	keep := func(id int64) {
		d.ID = id
		s.sent[id] = &sent{chat: d.ChatID, date: time.Now(), msg: -1}
		s.documents = append(s.documents, d)
	}
	if !s.admit(w, d.ChatID, nil, keep) {
		return
	}

	mimeType, _, _ := mime.ParseMediaType(d.MIMEType)
	result := map[string]any{
		"message_id": d.ID,
		"date":       time.Now().Unix(),
		"chat":       map[string]any{"id": d.ChatID, "type": chatType(d.ChatID)},
		"document": map[string]any{
			"file_name":      d.Name,
			"mime_type":      mimeType,
			"file_id":        fmt.Sprintf("document-%d", d.ID),
			"file_unique_id": fmt.Sprintf("d%d", d.ID),
			"file_size":      len(d.Content),
		},
	}
	if caption != "" {
		result["caption"] = caption
	}
	writeJSON(w, http.StatusOK, response{OK: true, Result: result})
}

// maxFieldSize bounds a form field that is not a file.
const maxFieldSize = 1 << 20

// uploadParams reads a request's parameters as params does, and, from a multipart
// form, its files, by field name. A file over MaxDocumentSize is errTooLarge, and the
// rest of the request is read and thrown away.
func uploadParams(r *http.Request) (map[string]string, map[string]upload, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		p, err := params(r)
		return p, nil, err
	}
	defer drain(r)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, fmt.Errorf("can't parse multipart form")
	}
	p, files := map[string]string{}, map[string]upload{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("can't parse multipart form")
		}
		field := part.FormName()
		// Not part.FileName, which keeps only the last element of a path: a test
		// wants to see what the client sent.
		_, disposition, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		name, isFile := disposition["filename"]
		limit := int64(maxFieldSize)
		if isFile {
			limit = MaxDocumentSize
		}
		var buf bytes.Buffer
		if isFile && r.ContentLength > 0 {
			// Room for the whole file at once, so that a large one is not copied
			// again each time the buffer would grow.
			buf.Grow(int(min(r.ContentLength, limit+1)) + bytes.MinRead)
		}
		_, err = buf.ReadFrom(io.LimitReader(part, limit+1))
		data := buf.Bytes()
		switch {
		case err != nil:
			return nil, nil, fmt.Errorf("can't parse multipart form")
		case int64(len(data)) > limit && isFile:
			return nil, nil, errTooLarge
		case int64(len(data)) > limit:
			return nil, nil, fmt.Errorf("can't parse multipart form")
		}
		if field == "" {
			continue
		}
		if isFile {
			if _, ok := files[field]; !ok {
				files[field] = upload{name: name, mimeType: part.Header.Get("Content-Type"), content: data}
			}
		} else if _, ok := p[field]; !ok {
			p[field] = string(data)
		}
	}
	for k, v := range r.URL.Query() {
		if _, ok := p[k]; !ok && len(v) > 0 {
			p[k] = v[0]
		}
	}
	return p, files, nil
}

// admit gives a message or document for chatID its number and keeps it, with keep,
// unless check (nil for none), called with s.mu held, returns the description of a
// 400 to answer it with (after "Bad Request: "), or the chat's limit answers it with
// 429, as Telegram does.
func (s *Server) admit(w http.ResponseWriter, chatID int64, check func() string, keep func(id int64)) bool {
	s.mu.Lock()
	refused := ""
	if check != nil {
		refused = check()
	}
	wait := 0
	if refused == "" {
		wait = s.throttle(chatID)
	}
	if refused == "" && wait == 0 {
		s.lastID++
		keep(s.lastID)
	}
	s.mu.Unlock()
	if refused != "" {
		writeError(w, http.StatusBadRequest, "Bad Request: "+refused, 0)
		return false
	}
	if wait > 0 {
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("Too Many Requests: retry after %d", wait), wait)
		return false
	}
	return true
}

// params reads a request's parameters the ways the Bot API accepts them: the query
// string, a URL-encoded or multipart form, or a JSON object. Values that are not
// strings come back in their JSON form, so 123 is "123" and true is "true".
func params(r *http.Request) (map[string]string, error) {
	p := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var obj map[string]json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&obj); err != nil {
			return nil, fmt.Errorf("can't parse JSON object")
		}
		r.Form = r.URL.Query()
		for k, raw := range obj {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				p[k] = s
			} else {
				p[k] = string(raw)
			}
		}
	} else if ct == "multipart/form-data" {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return nil, fmt.Errorf("can't parse multipart form")
		}
	} else if err := r.ParseForm(); err != nil {
		return nil, fmt.Errorf("can't parse form")
	}
	for k, v := range r.Form {
		if _, ok := p[k]; !ok && len(v) > 0 {
			p[k] = v[0]
		}
	}
	return p, nil
}

// chatType guesses a chat's type from its ID the way Telegram numbers them.
func chatType(id int64) string {
	switch {
	case id > 0:
		return "private"
	case id <= -1000000000000:
		return "supergroup"
	default:
		return "group"
	}
}

func writeError(w http.ResponseWriter, status int, description string, retryAfter int) {
	resp := response{ErrorCode: status, Description: description}
	if retryAfter > 0 {
		resp.Parameters = &responseParams{RetryAfter: retryAfter}
	}
	writeJSON(w, status, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// LongPolls counts the getUpdates requests that wait for an update now.
func (s *Server) LongPolls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiting
}

// AddUpdate queues an update for getUpdates, such as
// {"message": {"message_id": 1, "chat": {"id": 42, "type": "private"}, "text": "hi"}},
// and returns the update_id it is given: one more than the last, the first being 1.
// An update_id in update is replaced; update itself is not kept, a copy is.
func (s *Server) AddUpdate(update map[string]any) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUpdate(update)
}

// addUpdate is AddUpdate with s.mu held.
func (s *Server) addUpdate(update map[string]any) int64 {
	s.lastUpdateID++
	u := make(map[string]any, len(update)+1)
	for k, v := range update {
		u[k] = v
	}
	u["update_id"] = s.lastUpdateID
	// Stored as JSON, so that a test changing its map later changes nothing here.
	b, err := json.Marshal(u)
	if err != nil {
		panic(fmt.Sprintf("telegramtest: AddUpdate: %v", err))
	}
	s.updates = append(s.updates, pendingUpdate{s.lastUpdateID, b})
	if s.updateAdded != nil {
		close(s.updateAdded)
		s.updateAdded = nil
	}
	return s.lastUpdateID
}

// pendingUpdate is an update that getUpdates has not been told to forget.
type pendingUpdate struct {
	id   int64
	json json.RawMessage
}

// PendingUpdates counts the updates that getUpdates has not yet been told, by an
// offset above their update_id, to forget.
func (s *Server) PendingUpdates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.updates)
}

// SetWebhook sets the bot's webhook to url, as setWebhook would, or deletes it when
// url is empty. While a webhook is set, getUpdates answers 409 Conflict, as Telegram
// does.
func (s *Server) SetWebhook(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook = url
}

// getUpdates answers as Telegram does: updates with an update_id below offset are
// confirmed and forgotten, a negative offset keeps only the last -offset updates,
// limit (1 to 100, default 100) caps the answer, and with a timeout in seconds the
// request waits for an update when there is none yet. A request that comes while
// another waits ends that one with 409 Conflict: one poller per bot.
func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request) {
	p, err := params(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	var offset, limit, timeout int64 = 0, 100, 0
	for _, n := range []struct {
		name string
		v    *int64
	}{{"offset", &offset}, {"limit", &limit}, {"timeout", &timeout}} {
		if raw := p[n.name]; raw != "" {
			if *n.v, err = strconv.ParseInt(raw, 10, 64); err != nil {
				writeError(w, http.StatusBadRequest, "Bad Request: wrong parameter "+n.name+" specified", 0)
				return
			}
		}
	}
	limit = min(max(limit, 1), 100)
	if raw := p["allowed_updates"]; raw != "" {
		var types []string
		if err := json.Unmarshal([]byte(raw), &types); err != nil {
			writeError(w, http.StatusBadRequest, "Bad Request: can't parse allowed updates JSON array", 0)
			return
		}
	}

	s.mu.Lock()
	if s.polling != nil {
		close(s.polling) // the long poll waiting now ends
		s.polling = nil
	}
	s.mu.Unlock()

	wait := time.NewTimer(time.Duration(max(timeout, 0)) * time.Second)
	defer wait.Stop()
	for {
		s.mu.Lock()
		if s.webhook != "" {
			s.mu.Unlock()
			writeError(w, http.StatusConflict, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first", 0)
			return
		}
		switch {
		case offset < 0:
			s.updates = s.updates[max(0, len(s.updates)+int(offset)):]
		case offset > 0:
			i := 0
			for i < len(s.updates) && s.updates[i].id < offset {
				i++
			}
			s.updates = s.updates[i:]
		}
		if len(s.updates) > 0 || timeout <= 0 {
			result := []json.RawMessage{}
			for _, u := range s.updates[:min(int64(len(s.updates)), limit)] {
				result = append(result, u.json)
			}
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, response{OK: true, Result: result})
			return
		}
		if s.updateAdded == nil {
			s.updateAdded = make(chan struct{})
		}
		added := s.updateAdded
		terminated := make(chan struct{})
		s.polling = terminated
		s.waiting++
		s.mu.Unlock()
		ended := false
		select {
		case <-terminated:
			writeError(w, http.StatusConflict, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running", 0)
			ended = true
		case <-added:
		case <-wait.C:
			timeout = 0 // answer with what there is, which is nothing
		case <-r.Context().Done():
			ended = true
		case <-s.closing:
			ended = true
		}
		s.mu.Lock()
		s.waiting--
		s.mu.Unlock()
		if ended {
			return
		}
	}
}
