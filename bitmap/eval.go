package bitmap

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
)

// Count returns the number of users matching the expression across regs,
// one registry per partition. Partitions hold disjoint ids, so this is the
// sum of the per-partition counts; with several registries they are
// evaluated in parallel (at most GOMAXPROCS at a time), each under its read
// lock. "not x" is all minus x within each partition. Names are looked up in
// each registry's catalog (by id when it is the catalog the expression was
// bound to); a segment the catalog lacks is empty.
func (e *Expr) Count(regs []*Registry) uint64 {
	switch len(regs) {
	case 0:
		return 0
	case 1:
		return e.countOne(regs[0])
	}
	workers := min(len(regs), runtime.GOMAXPROCS(0))
	var (
		total atomic.Uint64
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			var sum uint64
			for i := next.Add(1) - 1; i < int64(len(regs)); i = next.Add(1) - 1 {
				sum += e.countOne(regs[i])
			}
			total.Add(sum)
		})
	}
	wg.Wait()
	return total.Load()
}

func (e *Expr) countOne(r *Registry) uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ev := evaluator{e: e, r: r}
	return ev.count(e.root)
}

// Members returns the users of reg's partition that match the expression,
// as a new bitmap the caller owns.
func (e *Expr) Members(reg *Registry) *roaring.Bitmap {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	ev := evaluator{e: e, r: reg}
	bm, owned := ev.bitmap(e.root)
	if !owned {
		bm = bm.Clone()
	}
	return bm
}

// evaluator evaluates an expression over one registry whose read lock is
// held. Bitmaps it returns with owned false belong to the registry and must
// not be modified.
type evaluator struct {
	e     *Expr
	r     *Registry
	empty *roaring.Bitmap // for names the registry's catalog lacks
}

func (ev *evaluator) leaf(n *node) *roaring.Bitmap {
	id := n.id
	if ev.e.catalog != ev.r.catalog || id < 0 {
		var ok bool
		if id, ok = ev.r.catalog.ID(n.name); !ok {
			if ev.empty == nil {
				ev.empty = roaring.New()
			}
			return ev.empty
		}
	}
	return ev.r.mu.segs[id]
}

// split separates the operands of an and (or an or) into plain ones and
// the operands of the negated ones.
func split(kids []*node) (pos, neg []*node) {
	for _, k := range kids {
		if k.op == opNot {
			neg = append(neg, k.kids[0])
		} else {
			pos = append(pos, k)
		}
	}
	return pos, neg
}

// count returns |n| without materialising what it can avoid: a name is its
// cardinality, "not x" is |all| - |x| (every segment is within all), two-way
// and/or use AndCardinality/OrCardinality, and "p and not q" is
// |p| - |p ∩ q|.
func (ev *evaluator) count(n *node) uint64 {
	switch n.op {
	case opName:
		return ev.leaf(n).GetCardinality()
	case opNot:
		return ev.r.mu.all.GetCardinality() - ev.count(n.kids[0])
	case opAnd:
		pos, neg := split(n.kids)
		return ev.countAndNot(pos, neg)
	default: // opOr
		pos, neg := split(n.kids)
		if len(neg) > 0 {
			// De Morgan: p1 or … or not q1 or … = not (q1 and … and not p1 and …).
			return ev.r.mu.all.GetCardinality() - ev.countAndNot(neg, pos)
		}
		if len(pos) == 2 {
			a, _ := ev.bitmap(pos[0])
			b, _ := ev.bitmap(pos[1])
			return a.OrCardinality(b)
		}
		bm, _ := ev.orOf(pos)
		return bm.GetCardinality()
	}
}

// countAndNot returns |p1 ∩ p2 ∩ … \ (q1 ∪ q2 ∪ …)|, with all for p when
// there is no p.
func (ev *evaluator) countAndNot(pos, neg []*node) uint64 {
	switch {
	case len(pos) == 1 && len(neg) == 0:
		return ev.count(pos[0])
	case len(pos) == 2 && len(neg) == 0:
		a, _ := ev.bitmap(pos[0])
		b, _ := ev.bitmap(pos[1])
		return a.AndCardinality(b)
	}
	base, owned := ev.andOf(pos)
	if len(neg) == 0 {
		return base.GetCardinality()
	}
	last := len(neg) - 1
	if !owned && len(neg) > 1 {
		q, _ := ev.orOf(neg)
		return base.GetCardinality() - base.AndCardinality(q)
	}
	for _, q := range neg[:last] { // base is owned here
		qb, _ := ev.bitmap(q)
		base.AndNot(qb)
	}
	qb, _ := ev.bitmap(neg[last])
	return base.GetCardinality() - base.AndCardinality(qb)
}

// bitmap materialises n, borrowing the registry's bitmap for a name.
func (ev *evaluator) bitmap(n *node) (bm *roaring.Bitmap, owned bool) {
	switch n.op {
	case opName:
		return ev.leaf(n), false
	case opNot:
		x, _ := ev.bitmap(n.kids[0])
		return roaring.AndNot(ev.r.mu.all, x), true
	case opAnd:
		pos, neg := split(n.kids)
		return ev.andNot(pos, neg)
	default: // opOr
		pos, neg := split(n.kids)
		if len(neg) > 0 {
			x, _ := ev.andNot(neg, pos)
			return roaring.AndNot(ev.r.mu.all, x), true
		}
		return ev.orOf(pos)
	}
}

// andOf materialises the intersection of pos (all when pos is empty).
func (ev *evaluator) andOf(pos []*node) (*roaring.Bitmap, bool) {
	switch len(pos) {
	case 0:
		return ev.r.mu.all, false
	case 1:
		return ev.bitmap(pos[0])
	}
	bms := make([]*roaring.Bitmap, len(pos))
	for i, p := range pos {
		bms[i], _ = ev.bitmap(p)
	}
	return roaring.FastAnd(bms...), true
}

// orOf materialises the union of pos (at least one).
func (ev *evaluator) orOf(pos []*node) (*roaring.Bitmap, bool) {
	if len(pos) == 1 {
		return ev.bitmap(pos[0])
	}
	bms := make([]*roaring.Bitmap, len(pos))
	for i, p := range pos {
		bms[i], _ = ev.bitmap(p)
	}
	return roaring.FastOr(bms...), true
}

// andNot materialises p1 ∩ p2 ∩ … \ q1 \ q2 ….
func (ev *evaluator) andNot(pos, neg []*node) (*roaring.Bitmap, bool) {
	base, owned := ev.andOf(pos)
	for _, q := range neg {
		qb, _ := ev.bitmap(q)
		if owned {
			base.AndNot(qb)
		} else {
			base, owned = roaring.AndNot(base, qb), true
		}
	}
	return base, owned
}
