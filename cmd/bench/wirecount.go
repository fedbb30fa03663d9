package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// wireCounter is a TCP proxy between a server process and its database
// that counts the commands the server sends, by name and collection, and
// times each on the wire. The driver's command monitor only sees commands
// of a client in its own process; this sees every command of the real
// server binary, at the one place they all pass, and changes none of them.
//
// It understands the plain wire protocol only (no TLS, no compression,
// which the driver uses only when the URI asks for it).
type wireCounter struct {
	ln       net.Listener
	upstream string
	conns    sync.WaitGroup

	mu       sync.Mutex
	closing  bool
	live     map[net.Conn]struct{}
	counting bool
	counts   map[string]int64         // "find pain_logs" -> commands, while counting
	took     map[string]time.Duration // "find pain_logs" -> time to its reply, while counting
	inflight map[int32]wireCommand    // by request id: sent, not yet answered
	lastSent time.Time
	firstErr error // the first message it could not read
}

// wireCommand is a command on its way: its name, its connection, when it
// went and whether it is being counted.
type wireCommand struct {
	name    string
	conn    int
	sent    time.Time
	counted bool
}

// Wire protocol opcodes (MongoDB wire protocol, "OP_MSG").
const (
	opMsg        = 2013
	opQuery      = 2004
	opCompressed = 2012
	// maxWireMessage is MongoDB's limit on one message (48 MB).
	maxWireMessage = 48_000_000
)

// handshakeCommands are the driver's connection handshakes and server
// monitoring: they are no request's work, and run on their own schedule.
var handshakeCommands = map[string]bool{"hello": true, "isMaster": true, "ismaster": true}

// startWireCounter listens on a free loopback port and forwards every
// connection to upstream (host:port).
func startWireCounter(upstream string) (*wireCounter, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	w := &wireCounter{ln: ln, upstream: upstream, live: map[net.Conn]struct{}{},
		counts: map[string]int64{}, took: map[string]time.Duration{}, inflight: map[int32]wireCommand{}}
	go w.accept()
	return w, nil
}

// addr is the proxy's host:port, for the server's MONGODB_URI.
func (w *wireCounter) addr() string { return w.ln.Addr().String() }

func (w *wireCounter) accept() {
	for id := 0; ; id++ {
		client, err := w.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", w.upstream)
		if err != nil {
			client.Close()
			continue
		}
		if !w.track(client, server) {
			return
		}
		w.conns.Add(2)
		go func() {
			defer w.conns.Done()
			w.fail(w.relay(server, client, func(msg []byte) { w.answered(msg) }))
			client.Close()
		}()
		go func() {
			defer w.conns.Done()
			w.fail(w.relay(client, server, func(msg []byte) { w.sent(id, msg) }))
			server.Close()
			w.forget(id)
		}()
	}
}

// track remembers a connection pair so that close can end it; false once closing.
func (w *wireCounter) track(conns ...net.Conn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		w.live[c] = struct{}{}
	}
	return true
}

// relay passes whole messages from one side to the other, showing each to see first.
func (w *wireCounter) relay(from io.Reader, to io.Writer, see func([]byte)) error {
	header := make([]byte, 16)
	for {
		if _, err := io.ReadFull(from, header); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		length := int(int32(binary.LittleEndian.Uint32(header)))
		if length < 16 || length > maxWireMessage {
			return fmt.Errorf("wire message of %d bytes", length)
		}
		msg := make([]byte, length)
		copy(msg, header)
		if _, err := io.ReadFull(from, msg[16:]); err != nil {
			return err
		}
		see(msg)
		if _, err := to.Write(msg); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

// fail keeps the first error of a relay, unless the proxy is closing.
func (w *wireCounter) fail(err error) {
	if err == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closing && w.firstErr == nil {
		w.firstErr = err
	}
}

// sent notes a message from the server process on connection conn.
func (w *wireCounter) sent(conn int, msg []byte) {
	var key string
	switch op := int32(binary.LittleEndian.Uint32(msg[12:16])); op {
	case opMsg:
		name, coll, ok := opMsgCommand(msg[16:])
		if !ok {
			key = "unreadable OP_MSG"
		} else if handshakeCommands[name] {
			return
		} else {
			key = strings.TrimSpace(name + " " + coll)
		}
	case opQuery:
		// The driver's legacy handshake; it sends no other OP_QUERY.
		return
	case opCompressed:
		key = "compressed"
	default:
		key = fmt.Sprintf("opcode %d", op)
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastSent = now
	w.inflight[int32(binary.LittleEndian.Uint32(msg[4:8]))] = wireCommand{name: key, conn: conn, sent: now, counted: w.counting}
	if w.counting {
		w.counts[key]++
	}
}

// answered notes a reply: the command it answers is done.
func (w *wireCounter) answered(msg []byte) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	id := int32(binary.LittleEndian.Uint32(msg[8:12]))
	if c, ok := w.inflight[id]; ok {
		if c.counted && w.counting {
			w.took[c.name] += now.Sub(c.sent)
		}
		delete(w.inflight, id)
	}
}

// forget drops what was in flight on a connection that closed: the driver
// closes one whose command ran past its deadline, and no reply will come.
func (w *wireCounter) forget(conn int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, c := range w.inflight {
		if c.conn == conn {
			delete(w.inflight, id)
		}
	}
}

// opMsgCommand returns an OP_MSG's command name (its body's first key) and
// the collection it names (the first key's value, or getMore's
// "collection").
func opMsgCommand(body []byte) (name, coll string, ok bool) {
	if len(body) < 4 {
		return "", "", false
	}
	sections := body[4:]
	if flags := binary.LittleEndian.Uint32(body); flags&1 != 0 && len(sections) >= 4 {
		sections = sections[:len(sections)-4] // the checksum
	}
	for len(sections) > 5 {
		kind := sections[0]
		size := int(int32(binary.LittleEndian.Uint32(sections[1:5])))
		if size < 5 || 1+size > len(sections) {
			return "", "", false
		}
		if kind == 0 {
			doc := bson.Raw(sections[1 : 1+size])
			first, err := doc.IndexErr(0)
			if err != nil {
				return "", "", false
			}
			name = first.Key()
			if s, isString := first.Value().StringValueOK(); isString {
				coll = s
			} else if v, err := doc.LookupErr("collection"); err == nil {
				coll, _ = v.StringValueOK()
			}
			return name, coll, true
		}
		sections = sections[1+size:]
	}
	return "", "", false
}

// start zeroes the counts and starts counting.
func (w *wireCounter) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	clear(w.counts)
	clear(w.took)
	w.counting = true
}

// stop stops counting and returns the counts since start, and the time
// each kind of command took to its reply (of those answered by now).
func (w *wireCounter) stop() (map[string]int64, map[string]time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counting = false
	counts := make(map[string]int64, len(w.counts))
	for k, v := range w.counts {
		counts[k] = v
	}
	took := make(map[string]time.Duration, len(w.took))
	for k, v := range w.took {
		took[k] = v
	}
	return counts, took
}

// waitQuiet returns once the server has sent a command, has none waiting
// for its reply, and has sent none for quiet: it has prepared its database
// and finished what it does at start. A single read can take seconds on
// the embedded engine, so a pause alone does not say it is done.
func (w *wireCounter) waitQuiet(ctx context.Context, quiet, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		w.mu.Lock()
		done := !w.lastSent.IsZero() && len(w.inflight) == 0 && time.Since(w.lastSent) >= quiet
		w.mu.Unlock()
		if done {
			return nil
		}
	}
	return fmt.Errorf("the server was still sending database commands after %s", timeout)
}

// err is the first message the proxy could not read, if any.
func (w *wireCounter) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.firstErr
}

// close stops listening and ends every connection.
func (w *wireCounter) close() {
	w.mu.Lock()
	w.closing = true
	w.ln.Close()
	for c := range w.live {
		c.Close()
	}
	w.mu.Unlock()
	w.conns.Wait()
}

// total is the number of commands in counts.
func total(counts map[string]int64) int64 {
	var n int64
	for _, v := range counts {
		n += v
	}
	return n
}

// describeCounts lists counts as "find pain_logs 1 (6.2 s), getMore pain_logs 2 (…)",
// by key, with the time each took to its reply where it had one.
func describeCounts(counts map[string]int64, took map[string]time.Duration) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
		if d, ok := took[k]; ok {
			parts[i] += fmt.Sprintf(" (%s)", d.Round(time.Millisecond))
		} else {
			parts[i] += " (no reply)"
		}
	}
	return strings.Join(parts, ", ")
}
