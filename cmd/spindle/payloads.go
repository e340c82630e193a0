package main

import (
	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/flink"
)

// newFlinkPayload opens a Flink distribution for --payload flink.
// jobClass is the per-job entry class (run -c); "" means the jar's Main-Class.
func newFlinkPayload(home, jobClass string) (amapi.Payload, error) {
	p, err := flink.New(flink.Options{Home: home, JobClass: jobClass})
	if err != nil {
		return nil, err
	}
	return p, nil
}
