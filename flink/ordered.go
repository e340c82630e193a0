package flink

// ordered is a map that keeps its keys in insertion order, as a Flink
// configuration file and a process environment keep theirs.
type ordered[V any] struct {
	keys []string
	vals map[string]V
}

func newOrdered[V any]() ordered[V] { return ordered[V]{vals: map[string]V{}} }

func (o *ordered[V]) get(k string) (V, bool) {
	v, ok := o.vals[k]
	return v, ok
}

// set sets k to v; a new key goes last.
func (o *ordered[V]) set(k string, v V) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *ordered[V]) remove(k string) {
	if _, ok := o.vals[k]; !ok {
		return
	}
	delete(o.vals, k)
	for i, x := range o.keys {
		if x == k {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			return
		}
	}
}

func (o *ordered[V]) clone() ordered[V] {
	d := ordered[V]{keys: append([]string(nil), o.keys...), vals: make(map[string]V, len(o.vals))}
	for k, v := range o.vals {
		d.vals[k] = v
	}
	return d
}
