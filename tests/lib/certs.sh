# shellcheck shell=bash
# Test PKI for Libervia tests. Source this file; it does not change shell options.
#
#   lv_make_certs DIR
#       Creates (once; skipped if all files are present):
#         DIR/ca.crt      self-signed test CA, CN "Libervia test CA"
#         DIR/ca.key      its key
#         DIR/server.crt  leaf for localhost, example.test, *.example.test,
#                         IP 127.0.0.1 (SANs), EKU serverAuth, signed by the CA
#         DIR/server.key  its key (unencrypted PEM)
#       The CA is NOT installed system-wide: hand DIR/ca.crt to the client
#       (daemon CA-file option, slixmpp ca_certs, openssl -CAfile ...).
#       Keys are EC P-256 (fast to make); LV_CERTS_KEY=rsa gives RSA 2048.
#       Env LV_CERTS_DAYS (default 3650).

lv_make_certs() {
    local dir=${1:?usage: lv_make_certs DIR}
    local days=${LV_CERTS_DAYS:-3650}
    local -a newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
    local ku="digitalSignature"
    if [[ ${LV_CERTS_KEY:-ec} == rsa ]]; then
        newkey=(-newkey rsa:2048)
        ku="digitalSignature, keyEncipherment"
    fi
    if [[ -s $dir/ca.crt && -s $dir/server.crt && -s $dir/server.key ]]; then
        return 0
    fi
    mkdir -p "$dir" || return 1

    local tmp
    tmp=$(mktemp -d "$dir/.mk.XXXXXX") || return 1

    cat >"$tmp/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
O = Libervia tests
CN = Libervia test CA
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
    cat >"$tmp/leaf.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
O = Libervia tests
CN = example.test
[v3_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, $ku
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, DNS:example.test, DNS:*.example.test, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF

    local log=$tmp/openssl.log
    if ! {
        openssl req -x509 -new "${newkey[@]}" -nodes -sha256 -days "$days" \
            -config "$tmp/ca.cnf" -keyout "$tmp/ca.key" -out "$tmp/ca.crt" &&
            openssl req -new "${newkey[@]}" -nodes -sha256 \
                -config "$tmp/leaf.cnf" -keyout "$tmp/server.key" -out "$tmp/server.csr" &&
            openssl x509 -req -sha256 -days "$days" -in "$tmp/server.csr" \
                -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
                -extfile "$tmp/leaf.cnf" -extensions v3_leaf -out "$tmp/server.crt" &&
            openssl verify -CAfile "$tmp/ca.crt" -purpose sslserver "$tmp/server.crt"
    } >"$log" 2>&1; then
        echo "lv_make_certs: openssl failed:" >&2
        cat "$log" >&2
        rm -rf "$tmp"
        return 1
    fi
    chmod 644 "$tmp/ca.crt" "$tmp/server.crt"
    chmod 600 "$tmp/ca.key" "$tmp/server.key"
    mv -f "$tmp/ca.key" "$tmp/ca.crt" "$tmp/server.key" "$dir/" &&
        mv -f "$tmp/server.crt" "$dir/server.crt" # last: marks completion
    local rc=$?
    rm -rf "$tmp"
    return "$rc"
}
