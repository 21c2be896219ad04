export {
  ASYMMETRIC_ALGORITHMS,
  AuthError,
  createTokenVerifier,
  identityFromClaims,
  parseGroups,
  type AsymmetricAlgorithm,
  type AuthErrorCode,
  type FetchLike,
  type Identity,
  type TokenVerifier,
  type TokenVerifierOptions,
} from './token-verifier.ts';
