// The acceptance rule of each loader model, applied to a candidate file.

import { requesterOf, verifyGlibcCandidate, verifyMuslCandidate } from '../elf/verify-candidate';
import type { CandidateCheck } from './candidate';

export const glibcCandidateCheck: CandidateCheck = (file, requester) => verifyGlibcCandidate(file, requesterOf(requester));

export const muslCandidateCheck: CandidateCheck = (file, requester) => verifyMuslCandidate(file, requesterOf(requester));
