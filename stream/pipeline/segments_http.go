package pipeline

import (
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/rekindle/rekindle/bitmap"
	"github.com/rekindle/rekindle/state"
	"github.com/rekindle/rekindle/stream"
)

// SegmentView is one segment in GET /v1/segments and /v1/segments/{name}.
type SegmentView struct {
	Name       string `json:"name"`
	Size       uint64 `json:"size"`
	Builtin    bool   `json:"builtin"`
	Definition any    `json:"definition"`
}

// registries returns the bitmaps of the partitions this process owns, in
// partition order, and how many partitions the topic has.
func (p *Pipeline) registries() []*bitmap.Registry {
	m := p.Runner.Registries()
	parts := make([]int, 0, len(m))
	for part := range m {
		parts = append(parts, int(part))
	}
	sort.Ints(parts)
	out := make([]*bitmap.Registry, 0, len(parts))
	for _, part := range parts {
		out = append(out, m[int32(part)])
	}
	return out
}

func (p *Pipeline) segmentView(id int, regs []*bitmap.Registry) SegmentView {
	v := SegmentView{Name: p.Processor.Catalog().Name(id), Builtin: id < stream.NumBuiltinSegments, Definition: p.Processor.SegmentRule(id)}
	for _, r := range regs {
		v.Size += r.Cardinality(id)
	}
	return v
}

func (p *Pipeline) listSegments(w http.ResponseWriter, r *http.Request) {
	regs := p.registries()
	cat := p.Processor.Catalog()
	out := struct {
		Partitions int           `json:"partitions_owned"`
		Segments   []SegmentView `json:"segments"`
	}{Partitions: len(regs)}
	for id := 0; id < cat.Len(); id++ {
		out.Segments = append(out.Segments, p.segmentView(id, regs))
	}
	writeJSON(w, http.StatusOK, out)
}

func (p *Pipeline) segmentID(w http.ResponseWriter, name string) (int, bool) {
	id, ok := p.Processor.Catalog().ID(name)
	if !ok {
		writeError(w, http.StatusNotFound, "no segment "+strconv.Quote(name)+" (GET /v1/segments lists them)")
	}
	return id, ok
}

func (p *Pipeline) getSegment(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	id, ok := p.segmentID(w, name)
	if !ok {
		return
	}
	v := p.segmentView(id, p.registries())
	if member := r.URL.Query().Get("member"); member != "" {
		rec, found, err := p.lookupUser(member)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		in := found && rec.Segments[id/64]&(1<<(id%64)) != 0
		writeJSON(w, http.StatusOK, struct {
			SegmentView
			User   string `json:"user_id"`
			Known  bool   `json:"user_known"`
			Member bool   `json:"member"`
		}{v, member, found, in})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (p *Pipeline) audience(w http.ResponseWriter, r *http.Request) {
	src := r.URL.Query().Get("expr")
	if strings.TrimSpace(src) == "" {
		writeError(w, http.StatusBadRequest, "missing query parameter expr, e.g. /v1/audience?expr=lapsed%20and%20not%20sms_unsubscribed")
		return
	}
	e, err := bitmap.ParseExpr(src)
	if err == nil {
		err = e.Bind(p.Processor.Catalog())
	}
	if err != nil {
		body := map[string]any{"error": err.Error(), "expr": src}
		var xe *bitmap.ExprError
		if errors.As(err, &xe) {
			body["position"] = xe.Pos
		}
		writeJSON(w, http.StatusBadRequest, body)
		return
	}
	regs := p.registries()
	writeJSON(w, http.StatusOK, map[string]any{"expr": e.String(), "count": e.Count(regs), "partitions_owned": len(regs)})
}

// lookupUser finds a user's record in any partition of the events topic.
func (p *Pipeline) lookupUser(id string) (state.UserRecord, bool, error) {
	var rec state.UserRecord
	found, err := stream.LookupUser(p.Store, id, p.Partitions, &rec)
	return rec, found, err
}

// exportSegment streams a segment's members: csv (user_id, email, phone,
// timezone, country), ndjson (the same as objects) or facebook (SHA-256 of
// the normalised email and phone, as Custom Audiences take them).
func (p *Pipeline) exportSegment(w http.ResponseWriter, r *http.Request) {
	id, ok := p.segmentID(w, r.PathValue("name"))
	if !ok {
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	switch format {
	case "csv", "facebook":
		w.Header().Set("Content-Type", "text/csv")
	case "ndjson":
		w.Header().Set("Content-Type", "application/x-ndjson")
	default:
		writeError(w, http.StatusBadRequest, "format "+strconv.Quote(format)+": want csv, ndjson or facebook")
		return
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	defer bw.Flush()
	cw := csv.NewWriter(bw)
	switch format {
	case "csv":
		cw.Write([]string{"user_id", "email", "phone", "timezone", "country"})
	case "facebook":
		cw.Write([]string{"email", "phone"})
	}
	enc := json.NewEncoder(bw)
	var rec state.UserRecord
	var failed error
	for part, reg := range p.Runner.Registries() {
		sp := p.Store.Partition(part)
		reg.ForEachMember(id, func(dense uint32) bool {
			user, found, err := sp.UserByDenseID(dense)
			if err == nil && found {
				found, err = sp.GetUser(user, &rec)
			}
			if err != nil {
				failed = err
				return false
			}
			if !found {
				return true // left since the snapshot of the bitmap
			}
			switch format {
			case "csv":
				cw.Write([]string{rec.UserID, rec.Email, rec.Phone, rec.Timezone, rec.Country})
			case "facebook":
				cw.Write([]string{hashNormalized(NormalizeEmail(rec.Email)), hashNormalized(NormalizePhone(rec.Phone))})
			case "ndjson":
				enc.Encode(map[string]string{"user_id": rec.UserID, "email": rec.Email, "phone": rec.Phone, "timezone": rec.Timezone, "country": rec.Country})
			}
			return true
		})
		if failed != nil {
			break
		}
	}
	cw.Flush()
	if failed != nil {
		// The status is sent; say so in the body rather than end silently.
		bw.WriteString("\nerror: export stopped: " + failed.Error() + "\n")
	}
}

// NormalizeEmail trims and lower-cases an email address.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// NormalizePhone keeps the digits of a phone number (E.164 without the "+").
func NormalizePhone(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func hashNormalized(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
