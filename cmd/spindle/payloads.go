package main

import (
	"github.com/spindle-yarn/spindle/am"
	"github.com/spindle-yarn/spindle/flink"
)

// newFlinkPayload opens a Flink distribution for --payload flink.
func newFlinkPayload(home string) (am.Payload, error) {
	p, err := flink.New(flink.Options{Home: home})
	if err != nil {
		return nil, err
	}
	return p, nil
}
