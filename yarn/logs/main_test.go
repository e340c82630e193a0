package logs

import (
	"testing"

	"github.com/spindle-yarn/spindle/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }
