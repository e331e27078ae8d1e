// A throwaway CA-less certificate for the router fakes' TLS (API on 8729, REST over HTTPS),
// made with openssl once per test file: self-signed, for 127.0.0.1 and the name "router.test".
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificate {
  readonly cert: string;
  readonly key: string;
}

export function makeCertificate(commonName = "router.test", ip = "127.0.0.1"): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), "wanctl-cert-"));
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "2",
      "-subj", `/CN=${commonName}`, "-addext", `subjectAltName=DNS:${commonName},IP:${ip}`,
    ], { stdio: "ignore" });
    return { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
