export const SEARCH_PUBLIC_GOOD_URL = 'https://search.sigstore.dev'
