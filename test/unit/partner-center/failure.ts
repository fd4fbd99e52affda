import { PartnerCenterError } from '../../../shared/partner-center';

/** The PartnerCenterError a call fails with; the test fails if it succeeds or fails with anything else. */
export async function failure(promise: Promise<unknown>): Promise<PartnerCenterError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PartnerCenterError);
  return error as PartnerCenterError;
}
