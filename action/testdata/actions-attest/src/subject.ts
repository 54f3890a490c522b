import * as glob from '@actions/glob'
import assert from 'assert'
import crypto from 'crypto'
import { parse } from 'csv-parse/sync'
import { createReadStream } from 'fs'
import fs from 'fs/promises'
import path from 'path'

import { readArtifactsList } from './artifacts'

import type { Subject } from '@actions/attest'

const MAX_SUBJECT_COUNT = 1024
const MAX_SUBJECT_CHECKSUM_SIZE_BYTES = 512 * MAX_SUBJECT_COUNT
const DIGEST_ALGORITHM = 'sha256'
const HEX_STRING_RE = /^[0-9a-fA-F]+$/

// Canonical SHA-2 algorithms and their expected hex digest lengths
const SUPPORTED_DIGEST_ALGORITHMS: Record<string, number> = {
  sha224: 56,
  sha256: 64,
  sha384: 96,
  sha512: 128,
  sha512_224: 56,
  sha512_256: 64
}

export type SubjectInputs = {
  subjectPath: string
  subjectName: string
  subjectDigest: string
  subjectChecksums: string
  downcaseName?: boolean
}
// Returns the subject specified by the action's inputs. The subject may be
// specified as a path to a file or as a digest. If a path is provided, the
// file's digest is calculated and returned along with the subject's name. If a
// digest is provided, the name must also be provided.
export const subjectFromInputs = async (
  inputs: SubjectInputs
): Promise<Subject[]> => {
  const {
    subjectPath,
    subjectDigest,
    subjectName,
    subjectChecksums,
    downcaseName
  } = inputs

  const enabledInputs = [subjectPath, subjectDigest, subjectChecksums].filter(
    Boolean
  )
  if (enabledInputs.length === 0) {
    // No explicit subject input — try the runner-generated artifacts list
    const discovered = await readArtifactsList({
      downcaseOCI: downcaseName,
      requireSingleOCI: downcaseName
    })
    if (discovered && discovered.length > 0) {
      if (discovered.length > MAX_SUBJECT_COUNT) {
        throw new Error(
          `Too many subjects specified (>${MAX_SUBJECT_COUNT}). The maximum number of subjects is ${MAX_SUBJECT_COUNT}.`
        )
      }
      return discovered
    }

    throw new Error(
      'One of subject-path, subject-digest, or subject-checksums must be provided'
    )
  }

  if (enabledInputs.length > 1) {
    throw new Error(
      'Only one of subject-path, subject-digest, or subject-checksums may be provided'
    )
  }

  if (subjectDigest && !subjectName) {
    throw new Error('subject-name must be provided when using subject-digest')
  }

  // If push-to-registry is enabled, ensure the subject name is lowercase
  // to conform to OCI image naming conventions
  const name = downcaseName ? subjectName.toLowerCase() : subjectName

  switch (true) {
    case !!subjectPath:
      return getSubjectFromPath(subjectPath, name)
    case !!subjectDigest:
      return [getSubjectFromDigest(subjectDigest, name)]
    case !!subjectChecksums:
      return await getSubjectFromChecksums(subjectChecksums)
    /* istanbul ignore next */
    default:
      // This should be unreachable, but TS requires a default case
      assert.fail('unreachable')
  }
}

// Returns the subject's digest as a formatted string of the form
// "<algorithm>:<digest>".
export const formatSubjectDigest = (subject: Subject): string => {
  const alg = Object.keys(subject.digest).sort()[0]
  return `${alg}:${subject.digest[alg]}`
}

// Returns the subject specified by the path to a file. The file's digest is
// calculated and returned along with the subject's name.
const getSubjectFromPath = async (
  subjectPath: string,
  subjectName?: string
): Promise<Subject[]> => {
  const digestedSubjects: Subject[] = []

  // Parse the list of subject paths
  const subjectPaths = parseSubjectPathList(subjectPath).join('\n')

  // Expand the globbed paths to a list of actual paths
  const paths = await glob.create(subjectPaths).then(async g => g.glob())

  // Filter path list to just the files (not directories), enforcing the maximum
  const files: string[] = []
  for (const p of paths) {
    const stat = await fs.stat(p)
    if (stat.isFile()) {
      if (files.length >= MAX_SUBJECT_COUNT) {
        throw new Error(
          `Too many subjects specified (>${MAX_SUBJECT_COUNT}). The maximum number of subjects is ${MAX_SUBJECT_COUNT}.`
        )
      }
      files.push(p)
    }
  }

  for (const file of files) {
    const name = subjectName || path.parse(file).base
    const digest = await digestFile(DIGEST_ALGORITHM, file)

    // Only add the subject if it is not already in the list
    if (
      !digestedSubjects.some(
        s => s.name === name && s.digest[DIGEST_ALGORITHM] === digest
      )
    ) {
      digestedSubjects.push({ name, digest: { [DIGEST_ALGORITHM]: digest } })
    }
  }

  if (digestedSubjects.length === 0) {
    throw new Error(`Could not find subject at path ${subjectPath}`)
  }

  return digestedSubjects
}

// Parses a subject digest string of the form "algorithm:hex_digest" and
// validates the algorithm name and hex digest length against the supported
// canonical in-toto SHA-2 algorithm set.
export const parseSubjectDigest = (
  input: string
): { algorithm: string; digest: string } => {
  const match = input.match(/^([^:]+):([^:]+)$/)
  if (!match) {
    throw new Error(
      'subject-digest must be in the format "algorithm:hex_digest"'
    )
  }

  const [, algorithm, digest] = match

  const expectedLength = SUPPORTED_DIGEST_ALGORITHMS[algorithm]
  if (expectedLength === undefined) {
    throw new Error(`subject-digest has unsupported algorithm "${algorithm}"`)
  }

  if (!HEX_STRING_RE.test(digest)) {
    throw new Error('subject-digest has invalid hex digits')
  }

  if (digest.length !== expectedLength) {
    throw new Error(
      `subject-digest has invalid length for algorithm "${algorithm}" (expected ${expectedLength}, got ${digest.length})`
    )
  }

  return { algorithm, digest }
}

// Returns the subject specified by the digest of a file. The digest is returned
// along with the subject's name.
const getSubjectFromDigest = (
  subjectDigest: string,
  subjectName: string
): Subject => {
  const { algorithm, digest } = parseSubjectDigest(subjectDigest)

  return {
    name: subjectName,
    digest: { [algorithm]: digest }
  }
}

const getSubjectFromChecksums = async (
  subjectChecksums: string
): Promise<Subject[]> => {
  try {
    await fs.access(subjectChecksums)
    return getSubjectFromChecksumsFile(subjectChecksums)
  } catch {
    return getSubjectFromChecksumsString(subjectChecksums)
  }
}

const getSubjectFromChecksumsFile = async (
  checksumsPath: string
): Promise<Subject[]> => {
  const stats = await fs.stat(checksumsPath)
  if (!stats.isFile()) {
    throw new Error(`subject checksums file not found: ${checksumsPath}`)
  }

  /* istanbul ignore next */
  if (stats.size > MAX_SUBJECT_CHECKSUM_SIZE_BYTES) {
    throw new Error(
      `subject checksums file exceeds maximum allowed size: ${MAX_SUBJECT_CHECKSUM_SIZE_BYTES} bytes`
    )
  }

  const checksums = await fs.readFile(checksumsPath, 'utf-8')
  return getSubjectFromChecksumsString(checksums)
}

const getSubjectFromChecksumsString = (checksums: string): Subject[] => {
  const subjects: Subject[] = []

  // Split on any line ending (LF or CRLF) so that checksums files produced on
  // one platform still parse correctly on another (e.g. an LF-only file on
  // Windows, where os.EOL would be "\r\n" and never match).
  const records: string[] = checksums.split(/\r?\n/).filter(Boolean)

  for (const record of records) {
    // Find the space delimiter following the digest
    const delimIndex = record.indexOf(' ')

    // Skip any line that doesn't have a delimiter
    if (delimIndex === -1) {
      continue
    }

    // It's common for checksum records to have a leading flag character before
    // the artifact name. It will be either a '*' or a space.
    const flag_and_name = record.slice(delimIndex + 1)
    const name =
      flag_and_name.startsWith('*') || flag_and_name.startsWith(' ')
        ? flag_and_name.slice(1)
        : flag_and_name

    // Defense-in-depth: a subject name should never span multiple lines. If it
    // does, the checksums input was not split correctly (e.g. an unrecognized
    // line ending), which would silently collapse many artifacts into one.
    // Fail loudly rather than produce a partial attestation.
    if (/[\r\n]/.test(name)) {
      throw new Error(`Invalid subject name (contains a newline): ${name}`)
    }

    const digest = record.slice(0, delimIndex)

    if (!HEX_STRING_RE.test(digest)) {
      throw new Error(`Invalid digest: ${digest}`)
    }

    const alg = digestAlgorithm(digest)

    // Only add the subject if it is not already in the list (deduplicate by name & digest)
    if (!subjects.some(s => s.name === name && s.digest[alg] === digest)) {
      subjects.push({
        name,
        digest: { [alg]: digest }
      })
    }
  }

  return subjects
}

// Calculates the digest of a file using the specified algorithm. The file is
// streamed into the digest function to avoid loading the entire file into
// memory. The returned digest is a hex string.
const digestFile = async (
  algorithm: string,
  filePath: string
): Promise<string> => {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash(algorithm).setEncoding('hex')
    createReadStream(filePath)
      .once('error', reject)
      .pipe(hash)
      .once('finish', () => resolve(hash.read()))
  })
}

const parseSubjectPathList = (input: string): string[] => {
  const res: string[] = []

  const records: string[][] = parse(input, {
    columns: false,
    relaxQuotes: true,
    relaxColumnCount: true,
    skipEmptyLines: true
  })

  for (const record of records) {
    res.push(...record)
  }

  return res.filter(item => item).map(pat => pat.trim())
}

const digestAlgorithm = (digest: string): string => {
  switch (digest.length) {
    case 64:
      return 'sha256'
    case 128:
      return 'sha512'
    default:
      throw new Error(`Unknown digest algorithm: ${digest}`)
  }
}
