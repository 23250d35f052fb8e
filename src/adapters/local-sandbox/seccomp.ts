// The seccomp filter every sandboxed command runs under: a classic BPF program built here and
// handed to bubblewrap (`--seccomp FD`), which installs it just before it starts the command, so
// bubblewrap's own setup (mounts, namespaces) is not affected.
//
// The sandbox already runs without capabilities in its own namespaces, so most of what is denied
// here would fail anyway; the filter takes away the kernel interfaces an unprivileged process
// can still reach and that sandbox escapes have come through, and closes the network for good
// when the profile has it off. What it denies, and why:
//
// - Another architecture's system calls (i386 via int 0x80, x32): the process is killed. Their
//   numbers differ, so a filter written for one table must not judge calls from another.
// - Namespaces: unshare, setns, clone with any CLONE_NEW* flag, and clone3 (its flags are behind
//   a pointer a filter cannot read; it fails with ENOSYS, so libc falls back to clone). A new user
//   namespace would give the command capabilities again over new mounts and network stacks.
// - Mounting and the root: mount, umount2, pivot_root, chroot and the new mount API (open_tree,
//   move_mount, fsopen, fsconfig, fsmount, fspick, mount_setattr).
// - Other processes' memory: ptrace, process_vm_readv, process_vm_writev.
// - Kernel interfaces with a long record of privilege escalations that no build or script needs:
//   bpf, perf_event_open, userfaultfd (used to widen kernel races), io_uring (its operations do
//   not pass through this filter: a socket made by io_uring would dodge the network rule).
// - Keyrings (keyctl, add_key, request_key): they are not namespaced, and every sandbox runs as the
//   same host user, so a key one session stores could be read by another.
// - open_by_handle_at / name_to_handle_at (open files by handle, around mount boundaries).
// - The machine itself: kexec_load, kexec_file_load, init_module, finit_module, delete_module,
//   reboot, swapon, swapoff, acct, quotactl, syslog, vhangup, setting the clock
//   (settimeofday, clock_settime, clock_adjtime, adjtimex), and on x86_64 iopl, ioperm,
//   modify_ldt, uselib, _sysctl, lookup_dcookie (also on aarch64), nfsservctl.
// - socket() with any family but AF_UNIX when the network is off (fails with EAFNOSUPPORT, as
//   if the kernel had no IP at all: no UDP or TCP to loopback or anywhere, no IPv6, no netlink,
//   no raw packets). With the network on: AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK (name
//   resolution and `ip` use it) only; exotic families (packet, vsock, alg, bluetooth, ...) stay
//   closed.
//
// Denied calls fail with EPERM (sockets: EAFNOSUPPORT; clone3: ENOSYS), so programs see an error
// they can report, not a kill.

/** AUDIT_ARCH_* values from <linux/audit.h>. */
const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_AARCH64 = 0xc00000b7;
/** x32 system calls on x86_64 have this bit set in their number. */
const X32_SYSCALL_BIT = 0x40000000;

const SECCOMP_RET_KILL_PROCESS = 0x80000000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_ALLOW = 0x7fff0000;

const EPERM = 1;
const ENOSYS = 38;
const EAFNOSUPPORT = 97;

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;

/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET. */
const CLONE_NEW_ANY =
  0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

// struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6].
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
/** The low 32 bits of args[0] (little-endian; both supported architectures are). */
const OFFSET_ARG0_LOW = 16;

// Classic BPF opcodes.
const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_JSET_K = 0x45;
const BPF_RET_K = 0x06;

/** Every system call named in the policy, with its number on each supported architecture. */
export const SECCOMP_SYSCALLS = {
  ptrace: { x64: 101, arm64: 117 },
  process_vm_readv: { x64: 310, arm64: 270 },
  process_vm_writev: { x64: 311, arm64: 271 },
  mount: { x64: 165, arm64: 40 },
  umount2: { x64: 166, arm64: 39 },
  pivot_root: { x64: 155, arm64: 41 },
  chroot: { x64: 161, arm64: 51 },
  open_tree: { x64: 428, arm64: 428 },
  move_mount: { x64: 429, arm64: 429 },
  fsopen: { x64: 430, arm64: 430 },
  fsconfig: { x64: 431, arm64: 431 },
  fsmount: { x64: 432, arm64: 432 },
  fspick: { x64: 433, arm64: 433 },
  mount_setattr: { x64: 442, arm64: 442 },
  unshare: { x64: 272, arm64: 97 },
  setns: { x64: 308, arm64: 268 },
  bpf: { x64: 321, arm64: 280 },
  perf_event_open: { x64: 298, arm64: 241 },
  userfaultfd: { x64: 323, arm64: 282 },
  io_uring_setup: { x64: 425, arm64: 425 },
  io_uring_enter: { x64: 426, arm64: 426 },
  io_uring_register: { x64: 427, arm64: 427 },
  keyctl: { x64: 250, arm64: 219 },
  add_key: { x64: 248, arm64: 217 },
  request_key: { x64: 249, arm64: 218 },
  open_by_handle_at: { x64: 304, arm64: 265 },
  name_to_handle_at: { x64: 303, arm64: 264 },
  kexec_load: { x64: 246, arm64: 104 },
  kexec_file_load: { x64: 320, arm64: 294 },
  init_module: { x64: 175, arm64: 105 },
  finit_module: { x64: 313, arm64: 273 },
  delete_module: { x64: 176, arm64: 106 },
  reboot: { x64: 169, arm64: 142 },
  swapon: { x64: 167, arm64: 224 },
  swapoff: { x64: 168, arm64: 225 },
  acct: { x64: 163, arm64: 89 },
  quotactl: { x64: 179, arm64: 60 },
  syslog: { x64: 103, arm64: 116 },
  vhangup: { x64: 153, arm64: 58 },
  settimeofday: { x64: 164, arm64: 170 },
  clock_settime: { x64: 227, arm64: 112 },
  clock_adjtime: { x64: 305, arm64: 266 },
  adjtimex: { x64: 159, arm64: 171 },
  lookup_dcookie: { x64: 212, arm64: 18 },
  nfsservctl: { x64: 180, arm64: 42 },
  iopl: { x64: 172 },
  ioperm: { x64: 173 },
  modify_ldt: { x64: 154 },
  uselib: { x64: 134 },
  _sysctl: { x64: 156 },
  // Not denied outright: checked by argument.
  socket: { x64: 41, arm64: 198 },
  clone: { x64: 56, arm64: 220 },
  clone3: { x64: 435, arm64: 435 },
} as const satisfies Record<string, { x64: number; arm64?: number }>;

const SYSCALLS = SECCOMP_SYSCALLS;
type SyscallName = keyof typeof SYSCALLS;

/** System calls that fail with EPERM whatever their arguments. */
export const DENIED_SYSCALLS: readonly SyscallName[] = (
  Object.keys(SYSCALLS) as SyscallName[]
).filter((name) => name !== "socket" && name !== "clone" && name !== "clone3");

/** Socket families allowed with the network on; with it off, AF_UNIX only. */
export const NETWORK_SOCKET_FAMILIES = [AF_UNIX, AF_INET, AF_INET6, AF_NETLINK] as const;
export const OFFLINE_SOCKET_FAMILIES = [AF_UNIX] as const;

export type SeccompArch = "x64" | "arm64";

/** The architecture a filter is built for: this process's (where Node is, the sandbox is). */
export function hostSeccompArch(): SeccompArch | undefined {
  return process.arch === "x64" || process.arch === "arm64" ? process.arch : undefined;
}

type Target = string | number;
interface Insn {
  code: number;
  k: number;
  /** Jump targets: a label or a relative offset. */
  jt?: Target;
  jf?: Target;
  label?: string;
}

/** Lays out `insns`, resolving label targets to relative jumps (which must fit in 8 bits). */
function assemble(insns: Insn[]): Buffer {
  const at = new Map<string, number>();
  insns.forEach((insn, i) => {
    if (insn.label !== undefined) at.set(insn.label, i);
  });
  const out = Buffer.alloc(insns.length * 8);
  insns.forEach((insn, i) => {
    const rel = (t: Target | undefined): number => {
      if (t === undefined) return 0;
      if (typeof t === "number") return t;
      const to = at.get(t);
      if (to === undefined) throw new Error(`seccomp: no label ${t}`);
      const offset = to - i - 1;
      if (offset < 0 || offset > 255) throw new Error(`seccomp: jump to ${t} out of range`);
      return offset;
    };
    // struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; } in host byte order.
    out.writeUInt16LE(insn.code, i * 8);
    out.writeUInt8(rel(insn.jt), i * 8 + 2);
    out.writeUInt8(rel(insn.jf), i * 8 + 3);
    out.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return out;
}

export interface SeccompOptions {
  networkAllowed: boolean;
  /** Default: this machine's. */
  arch?: SeccompArch;
}

/**
 * The filter as bubblewrap reads it from `--seccomp FD`: an array of struct sock_filter.
 * Throws on an architecture it has no system call table for.
 */
export function buildSeccompFilter(options: SeccompOptions): Buffer {
  const arch = options.arch ?? hostSeccompArch();
  if (!arch) throw new Error(`seccomp: no system call table for ${process.arch}`);
  const nr = (name: SyscallName): number | undefined =>
    (SYSCALLS[name] as { x64: number; arm64?: number })[arch];
  const families = options.networkAllowed ? NETWORK_SOCKET_FAMILIES : OFFLINE_SOCKET_FAMILIES;
  const p: Insn[] = [];
  const ret = (k: number, label?: string) =>
    p.push({ code: BPF_RET_K, k, ...(label ? { label } : {}) });

  p.push({ code: BPF_LD_W_ABS, k: OFFSET_ARCH });
  p.push({
    code: BPF_JEQ_K,
    k: arch === "x64" ? AUDIT_ARCH_X86_64 : AUDIT_ARCH_AARCH64,
    jt: 1,
    jf: 0,
  });
  ret(SECCOMP_RET_KILL_PROCESS);
  p.push({ code: BPF_LD_W_ABS, k: OFFSET_NR });
  if (arch === "x64") p.push({ code: BPF_JGE_K, k: X32_SYSCALL_BIT, jt: "kill", jf: 0 });
  for (const name of DENIED_SYSCALLS) {
    const n = nr(name);
    if (n !== undefined) p.push({ code: BPF_JEQ_K, k: n, jt: "eperm", jf: 0 });
  }
  p.push({ code: BPF_JEQ_K, k: nr("clone3")!, jt: "enosys", jf: 0 });
  p.push({ code: BPF_JEQ_K, k: nr("clone")!, jt: "clone", jf: 0 });
  p.push({ code: BPF_JEQ_K, k: nr("socket")!, jt: "socket", jf: "allow" });
  // clone(flags, ...): flags is the first argument on both architectures.
  p.push({ code: BPF_LD_W_ABS, k: OFFSET_ARG0_LOW, label: "clone" });
  p.push({ code: BPF_JSET_K, k: CLONE_NEW_ANY, jt: "eperm", jf: "allow" });
  // socket(family, type, protocol).
  p.push({ code: BPF_LD_W_ABS, k: OFFSET_ARG0_LOW, label: "socket" });
  for (const family of families) p.push({ code: BPF_JEQ_K, k: family, jt: "allow", jf: 0 });
  ret(SECCOMP_RET_ERRNO | EAFNOSUPPORT);
  ret(SECCOMP_RET_ALLOW, "allow");
  ret(SECCOMP_RET_ERRNO | EPERM, "eperm");
  ret(SECCOMP_RET_ERRNO | ENOSYS, "enosys");
  ret(SECCOMP_RET_KILL_PROCESS, "kill");
  return assemble(p);
}
