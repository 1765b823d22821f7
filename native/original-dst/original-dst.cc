// getOriginalDst(fd): the destination a connection had before an iptables REDIRECT rewrote it,
// read with getsockopt(SOL_IP, SO_ORIGINAL_DST) (or SOL_IPV6, IP6T_SO_ORIGINAL_DST). Node has no
// API for it. Plain Node-API C (node_api.h): no npm package is needed to build it, and the binary
// works across Node versions with the same N-API level.
#include <node_api.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace {

napi_value Throw(napi_env env, const char* code, const char* message) {
  napi_throw_error(env, code, message);
  return nullptr;
}

napi_value Result(napi_env env, const char* address, int family, unsigned port) {
  napi_value out, addr, fam, prt;
  if (napi_create_object(env, &out) != napi_ok) return nullptr;
  napi_create_string_utf8(env, address, NAPI_AUTO_LENGTH, &addr);
  napi_create_uint32(env, static_cast<uint32_t>(family), &fam);
  napi_create_uint32(env, port, &prt);
  napi_set_named_property(env, out, "address", addr);
  napi_set_named_property(env, out, "family", fam);
  napi_set_named_property(env, out, "port", prt);
  return out;
}

// getOriginalDst(fd: number): { address: string, family: 4 | 6, port: number }
// Throws with code ENOENT when the connection was not redirected (no conntrack NAT entry).
napi_value GetOriginalDst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    return Throw(env, "ERR_INVALID_ARG_TYPE", "getOriginalDst: expected a file descriptor (non-negative integer)");
  }

  sockaddr_storage local {};
  socklen_t local_len = sizeof(local);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
    return Throw(env, "EGETSOCKNAME", strerror(errno));
  }

  char text[INET6_ADDRSTRLEN] = {0};
  if (local.ss_family == AF_INET6) {
    sockaddr_in6 dst {};
    socklen_t len = sizeof(dst);
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &len) == 0) {
      // An IPv4 connection on a dual-stack socket: the IPv4 option answers below.
      inet_ntop(AF_INET6, &dst.sin6_addr, text, sizeof(text));
      return Result(env, text, 6, ntohs(dst.sin6_port));
    }
  }
  sockaddr_in dst4 {};
  socklen_t len4 = sizeof(dst4);
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst4, &len4) != 0) {
    int err = errno;
    return Throw(env, err == ENOENT ? "ENOENT" : "EGETSOCKOPT", strerror(err));
  }
  inet_ntop(AF_INET, &dst4.sin_addr, text, sizeof(text));
  return Result(env, text, 4, ntohs(dst4.sin_port));
}

napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "getOriginalDst", NAPI_AUTO_LENGTH, GetOriginalDst, nullptr, &fn) != napi_ok) return nullptr;
  napi_set_named_property(env, exports, "getOriginalDst", fn);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
