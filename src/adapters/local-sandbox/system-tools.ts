// The system programs that make and mount workspace images, where this machine has them, and
// running one with a plain environment.

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";

function which(names: string[]): string | undefined {
  return names.find((p) => existsSync(p));
}

export const TOOLS = {
  nsenter: which(["/usr/bin/nsenter", "/bin/nsenter"]),
  unshare: which(["/usr/bin/unshare", "/bin/unshare"]),
  mount: which(["/usr/bin/mount", "/bin/mount"]),
  umount: which(["/usr/bin/umount", "/bin/umount"]),
  mkfs: which(["/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"]),
  losetup: which(["/usr/sbin/losetup", "/sbin/losetup"]),
};

export const SYSTEM_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" };

/** Runs a system program: its stdout, or an error with the last line of its stderr. */
export function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: SYSTEM_ENV, timeout: 60_000 }, (err, stdout, stderr) => {
      if (!err) return resolve(String(stdout));
      const why = String(stderr).trim().split("\n").at(-1) || err.message;
      reject(Object.assign(new Error(`${file.split("/").at(-1)}: ${why}`), { stderr }));
    });
  });
}
