// Real certificates for TLS tests, made with the openssl CLI: a CA, a server certificate it
// signed for localhost and 127.0.0.1, a client certificate it signed, and a stranger's
// self-signed client certificate that the CA never saw. Files (PEM) in a temp dir.
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { tempDir } from './temp-dir.js'

type TapTest = Parameters<typeof tempDir>[0]

const run = promisify(execFile)

export interface CertFiles { cert: string, key: string }
export interface Pki { dir: string, ca: CertFiles, server: CertFiles, client: CertFiles, stranger: CertFiles }

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

/** Fails the test with a clear line when openssl is not installed. */
export const makePki = async (t: TapTest): Promise<Pki> => {
  await run('openssl', ['version']).catch(() => { throw new Error('these tests need the openssl CLI on the PATH') })
  const dir = tempDir(t, 'stv-pki-')
  const files = (name: string): CertFiles => ({ cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) })
  const [ca, server, client, stranger] = [files('ca'), files('server'), files('client'), files('stranger')]

  await run('openssl', ['req', '-x509', ...EC, '-days', '2', '-subj', '/CN=stratavore test CA', '-keyout', ca.key, '-out', ca.cert,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  const signed = async (name: string, files: CertFiles, subject: string, extensions: string) => {
    const csr = join(dir, `${name}.csr`)
    const ext = join(dir, `${name}.ext`)
    writeFileSync(ext, extensions)
    await run('openssl', ['req', '-new', ...EC, '-subj', subject, '-keyout', files.key, '-out', csr])
    await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', files.cert])
  }
  await signed('server', server, '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  await signed('client', client, '/CN=node-a', 'extendedKeyUsage=clientAuth\n')
  await run('openssl', ['req', '-x509', ...EC, '-days', '1', '-subj', '/CN=stranger', '-keyout', stranger.key, '-out', stranger.cert,
    '-addext', 'extendedKeyUsage=clientAuth'])
  return { dir, ca, server, client, stranger }
}
