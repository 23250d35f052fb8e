// The local sandbox's seccomp filter: the BPF program itself (run here by a small classic-BPF
// interpreter, for both architectures), its system call numbers against the kernel's headers,
// and what a real command in a real sandbox gets from the calls it denies.

import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalSandboxProvider } from "../src/adapters/local-sandbox/provider.js";
import {
  buildSeccompFilter,
  DENIED_SYSCALLS,
  hostSeccompArch,
  SECCOMP_SYSCALLS,
  type SeccompArch,
} from "../src/adapters/local-sandbox/seccomp.js";
import { silentLogger } from "../src/app/shared/logger.js";
import type { Sandbox } from "../src/ports/sandbox.js";
import { defaultSettings } from "./sandbox.suite.js";

// Kernel ABI values (linux/seccomp.h, linux/audit.h, errno).
const RET_KILL_PROCESS = 0x80000000;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = (errno: number) => 0x00050000 | errno;
const ARCH = { x64: 0xc000003e, arm64: 0xc00000b7, i386: 0x40000003 };
const EPERM = 1;
const ENOSYS = 38;
const EAFNOSUPPORT = 97;

/** Runs a classic BPF seccomp program over one system call, as the kernel would. */
function runFilter(program: Buffer, arch: number, nr: number, args: number[] = []): number {
  const data = Buffer.alloc(64);
  data.writeInt32LE(nr, 0);
  data.writeUInt32LE(arch, 4);
  args.forEach((a, i) => {
    data.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a)), 16 + 8 * i);
  });
  let acc = 0;
  for (let pc = 0; pc < program.length / 8; ) {
    const code = program.readUInt16LE(pc * 8);
    const jt = program.readUInt8(pc * 8 + 2);
    const jf = program.readUInt8(pc * 8 + 3);
    const k = program.readUInt32LE(pc * 8 + 4);
    switch (code) {
      case 0x20: // ld [k]
        acc = data.readUInt32LE(k);
        pc++;
        break;
      case 0x15: // jeq #k
        pc += 1 + (acc === k ? jt : jf);
        break;
      case 0x35: // jge #k
        pc += 1 + (acc >= k ? jt : jf);
        break;
      case 0x45: // jset #k
        pc += 1 + ((acc & k) !== 0 ? jt : jf);
        break;
      case 0x06: // ret #k
        return k >>> 0;
      default:
        throw new Error(`unexpected BPF opcode ${code.toString(16)}`);
    }
  }
  throw new Error("fell off the end of the program");
}

const nr = (name: keyof typeof SECCOMP_SYSCALLS, arch: SeccompArch): number => {
  const n = (SECCOMP_SYSCALLS[name] as { x64: number; arm64?: number })[arch];
  if (n === undefined) throw new Error(`${name} has no number on ${arch}`);
  return n;
};

const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWNET = 0x40000000;
/** What glibc's fork() passes. */
const FORK_FLAGS = 0x01200011;
/** What pthread_create passes (CLONE_VM | FS | FILES | SIGHAND | THREAD | SYSVSEM | ...). */
const THREAD_FLAGS = 0x003d0f00;

describe("seccomp filter program", () => {
  for (const arch of ["x64", "arm64"] as const) {
    describe(arch, () => {
      const offline = buildSeccompFilter({ networkAllowed: false, arch });
      const online = buildSeccompFilter({ networkAllowed: true, arch });
      const a = ARCH[arch];
      const read = arch === "x64" ? 0 : 63;

      it("allows ordinary calls and kills other architectures' calls", () => {
        expect(runFilter(offline, a, read)).toBe(RET_ALLOW);
        expect(runFilter(offline, ARCH.i386, 3)).toBe(RET_KILL_PROCESS);
        expect(runFilter(offline, arch === "x64" ? ARCH.arm64 : ARCH.x64, read)).toBe(
          RET_KILL_PROCESS,
        );
        if (arch === "x64") {
          // x32: the same arch value, numbers with bit 30 set.
          expect(runFilter(offline, a, 0x40000000 + 1)).toBe(RET_KILL_PROCESS);
        }
      });

      it("denies every listed call with EPERM, clone3 with ENOSYS", () => {
        for (const name of DENIED_SYSCALLS) {
          const n = (SECCOMP_SYSCALLS[name] as { x64: number; arm64?: number })[arch];
          if (n === undefined) continue;
          expect(runFilter(offline, a, n), name).toBe(RET_ERRNO(EPERM));
          expect(runFilter(online, a, n), name).toBe(RET_ERRNO(EPERM));
        }
        expect(runFilter(offline, a, nr("clone3", arch))).toBe(RET_ERRNO(ENOSYS));
      });

      it("lets fork and threads clone, not new namespaces", () => {
        const clone = nr("clone", arch);
        expect(runFilter(offline, a, clone, [FORK_FLAGS])).toBe(RET_ALLOW);
        expect(runFilter(offline, a, clone, [THREAD_FLAGS])).toBe(RET_ALLOW);
        expect(runFilter(offline, a, clone, [FORK_FLAGS | CLONE_NEWUSER])).toBe(RET_ERRNO(EPERM));
        expect(runFilter(online, a, clone, [CLONE_NEWNET])).toBe(RET_ERRNO(EPERM));
      });

      it("opens only Unix sockets with the network off; the usual families with it on", () => {
        const socket = nr("socket", arch);
        for (const family of [2, 10, 16, 17, 40]) {
          // AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_VSOCK
          expect(runFilter(offline, a, socket, [family, 2, 0]), `family ${family}`).toBe(
            RET_ERRNO(EAFNOSUPPORT),
          );
        }
        expect(runFilter(offline, a, socket, [1, 1, 0])).toBe(RET_ALLOW);
        for (const family of [1, 2, 10, 16]) {
          expect(runFilter(online, a, socket, [family, 2, 0]), `family ${family}`).toBe(RET_ALLOW);
        }
        for (const family of [17, 40, 38]) {
          // AF_PACKET, AF_VSOCK, AF_ALG
          expect(runFilter(online, a, socket, [family, 2, 0]), `family ${family}`).toBe(
            RET_ERRNO(EAFNOSUPPORT),
          );
        }
      });
    });
  }

  it("uses the kernel's system call numbers (checked against the installed headers)", () => {
    // linux-libc-dev (scripts/setup-system.sh) installs both tables.
    const table = (file: string, prefix: RegExp) => {
      const out = new Map<string, number>();
      for (const m of readFileSync(file, "utf8").matchAll(prefix)) out.set(m[1]!, Number(m[2]));
      return out;
    };
    const x64 = table(
      "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
      /#define __NR_(\w+)\s+(\d+)/g,
    );
    const generic = table(
      "/usr/include/asm-generic/unistd.h",
      /#define __NR(?:3264)?_(\w+)\s+(\d+)/g,
    );
    for (const [name, numbers] of Object.entries(SECCOMP_SYSCALLS)) {
      expect(numbers.x64, name).toBe(x64.get(name));
      const arm64 = (numbers as { arm64?: number }).arm64;
      if (arm64 !== undefined) expect(arm64, name).toBe(generic.get(name));
      else expect(generic.has(name), `${name} exists on arm64`).toBe(false);
    }
  });
});

describe("seccomp filter in a real sandbox", () => {
  let dataDir: string;
  let provider: LocalSandboxProvider;
  let sb: Sandbox;
  const arch = hostSeccompArch()!;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "ar-seccomp-"));
    provider = await LocalSandboxProvider.create({ dataDir, logger: silentLogger });
    sb = await provider.create({ sessionId: "ses_seccomp", settings: defaultSettings() });
  });
  afterAll(async () => {
    await sb?.terminate();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("is on", () => {
    expect(arch).toBeDefined();
    expect(provider.enforcement.seccomp).toBe(true);
  });

  it("fails denied calls that would otherwise work with EPERM (clone3: ENOSYS)", async () => {
    // Each call's arguments make it succeed, or fail differently (EFAULT, EINVAL), without the
    // filter: the errno shows the filter answered.
    const calls: Array<[string, string, number]> = [
      ["unshare(CLONE_NEWUSER)", `${nr("unshare", arch)}, ${CLONE_NEWUSER}`, EPERM],
      ["ptrace(PTRACE_TRACEME)", `${nr("ptrace", arch)}, 0, 0, 0, 0`, EPERM],
      ["keyctl(GET_KEYRING_ID)", `${nr("keyctl", arch)}, 0, -3, 0`, EPERM],
      ["userfaultfd(USER_MODE_ONLY)", `${nr("userfaultfd", arch)}, 1`, EPERM],
      ["io_uring_setup", `${nr("io_uring_setup", arch)}, 1, 0`, EPERM],
      ["perf_event_open", `${nr("perf_event_open", arch)}, 0, 0, -1, -1, 0`, EPERM],
      ["bpf", `${nr("bpf", arch)}, 0, 0, 0`, EPERM],
      ["setns", `${nr("setns", arch)}, 0, 0`, EPERM],
      ["process_vm_readv", `${nr("process_vm_readv", arch)}, $$, 0, 0, 0, 0, 0`, EPERM],
      ["name_to_handle_at", `${nr("name_to_handle_at", arch)}, 0, 0, 0, 0, 0`, EPERM],
      ["mount", `${nr("mount", arch)}, 0, 0, 0, 0, 0`, EPERM],
      ["clone3", `${nr("clone3", arch)}, 0, 0`, ENOSYS],
    ];
    const script = calls
      .map(([name, args]) => `$! = 0; $r = syscall(${args}); print "${name} $r ", $! + 0, "\\n";`)
      .join(" ");
    const r = await sb.exec({ command: `perl -e '${script}'` });
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toEqual(calls.map(([name, , errno]) => `${name} -1 ${errno}`));
  });

  it("still lets commands fork, run threads and use Unix sockets", async () => {
    const r = await sb.exec({
      command: [
        "(echo child) & wait",
        // sort's parallel merge runs pthreads (clone3 falls back to clone).
        "seq 200000 | sort -n --parallel=2 -S 20M | tail -1",
        `perl -MSocket -e 'socketpair(my $a, my $b, AF_UNIX, SOCK_STREAM, 0) or die "$!"; print "pair\\n"'`,
        "unshare -U true 2>&1 || echo unshare-refused",
      ].join("; "),
    });
    expect(r.stdout).toBe(
      "child\n200000\npair\nunshare: unshare failed: Operation not permitted\nunshare-refused\n",
    );
  });
});
