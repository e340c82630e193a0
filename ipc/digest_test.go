package ipc

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

// JDK 17 SASL vectors from hadoop-wire.md §4.8: username b64("identifier-bytes"),
// password b64("password-bytes").
func TestDigestJDKVectors(t *testing.T) {
	const user, pass = "aWRlbnRpZmllci1ieXRlcw==", "cGFzc3dvcmQtYnl0ZXM="
	cases := []struct {
		name, qop, cipher, nonce, cnonce, response, rspauth string
		c2s                                                 []string
		s2c                                                 string
	}{
		{"auth-int", QOPAuthInt, "", "LT0l28hzb1UE4bx84GjxCCprqKpV2bvBtLBehSK4", "poSHiOd/N6izRR+Ygd4RLDX2HLKqDfn2H7MSkxzK",
			"9901ac43965f90bae46cb8514f398e9c", "a673436327ec0a5465ed3387ed4f7cf4",
			[]string{"68656c6c6f20776f726c64ca343344dee60f6cb4b0000100000000"}, "726573706f6e73652154550ca9c552c1e1738e000100000000"},
		{"auth-conf-rc4", QOPAuthConf, "rc4", "fvmmyhSYnPKlTsVVgc7xHAgqcx3BCZ3xqAcd/Ck0", "o++Pm1aFHotvVmFbMMyhDw/Xmr3VEotWfOUQ51fb",
			"0a8a5291b43ed4a42d68c9e114cc55f7", "0a05a320edce2c43e1460cc52559f2a3",
			[]string{"2fe850ddfe5b26e340cbbaf88b8d7dcfe35146d7c5000100000000", "d26b4f6f3652017ff5c4f4edebeae1829fae9640bc000100000001"},
			"f61e7eedd77cc2ce57c0717d054af18b56981c000100000000"},
		{"auth-conf-3des", QOPAuthConf, "3des", "JtqqGvj1IXN1wNSZ8En1lq6Nf9sL4jE33EtjMmO/", "PEIHj1ul1TPVCDnF7gGTs3ZvgVcqkSfX87xwzAE2",
			"ddb7cfb87e8cd9c9ee83c9b5f521192c", "444b98863697c5e4409896a2287baeb1",
			[]string{"e6cd4c5d5ee6268b16ae26dc6d28993c5bace4642d5c5f15000100000000", "0ff2fa129add3365636251c8d4d0018ba10e8caa46413312000100000001"},
			"dee281173d230bc9b44a69aca67cb26ab606dc0282b0f37b000100000000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.response, DigestResponse(user, pass, tc.nonce, tc.cnonce, tc.qop))
			require.Equal(t, tc.rspauth, DigestRspAuth(user, pass, tc.nonce, tc.cnonce, tc.qop))
			ha1 := digestHA1(user, digestRealm, pass, tc.nonce, tc.cnonce)
			cl, err := newDigestLayer(ha1, tc.qop, tc.cipher, true)
			require.NoError(t, err)
			sv, err := newDigestLayer(ha1, tc.qop, tc.cipher, false)
			require.NoError(t, err)
			for i := range tc.c2s {
				w, err := cl.Wrap([]byte("hello world"))
				require.NoError(t, err)
				require.Equal(t, tc.c2s[i], hex.EncodeToString(w), "client wrap #%d", i)
				got, err := sv.Unwrap(w)
				require.NoError(t, err)
				require.Equal(t, "hello world", string(got))
			}
			w, err := sv.Wrap([]byte("response!"))
			require.NoError(t, err)
			require.Equal(t, tc.s2c, hex.EncodeToString(w))
			got, err := cl.Unwrap(w)
			require.NoError(t, err)
			require.Equal(t, "response!", string(got))
		})
	}
}
