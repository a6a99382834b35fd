import { asciiAlphanumeric } from '../latin';

/** USPS / ANSI two-letter codes of the states, the District of Columbia and the inhabited territories. */
const US_STATES: ReadonlyArray<readonly [code: string, name: string]> = [
  ['al', 'Alabama'], ['ak', 'Alaska'], ['az', 'Arizona'], ['ar', 'Arkansas'], ['ca', 'California'],
  ['co', 'Colorado'], ['ct', 'Connecticut'], ['de', 'Delaware'], ['dc', 'District of Columbia'],
  ['fl', 'Florida'], ['ga', 'Georgia'], ['hi', 'Hawaii'], ['id', 'Idaho'], ['il', 'Illinois'], ['in', 'Indiana'],
  ['ia', 'Iowa'], ['ks', 'Kansas'], ['ky', 'Kentucky'], ['la', 'Louisiana'], ['me', 'Maine'], ['md', 'Maryland'],
  ['ma', 'Massachusetts'], ['mi', 'Michigan'], ['mn', 'Minnesota'], ['ms', 'Mississippi'], ['mo', 'Missouri'],
  ['mt', 'Montana'], ['ne', 'Nebraska'], ['nv', 'Nevada'], ['nh', 'New Hampshire'], ['nj', 'New Jersey'],
  ['nm', 'New Mexico'], ['ny', 'New York'], ['nc', 'North Carolina'], ['nd', 'North Dakota'], ['oh', 'Ohio'],
  ['ok', 'Oklahoma'], ['or', 'Oregon'], ['pa', 'Pennsylvania'], ['ri', 'Rhode Island'], ['sc', 'South Carolina'],
  ['sd', 'South Dakota'], ['tn', 'Tennessee'], ['tx', 'Texas'], ['ut', 'Utah'], ['vt', 'Vermont'],
  ['va', 'Virginia'], ['wa', 'Washington'], ['wv', 'West Virginia'], ['wi', 'Wisconsin'], ['wy', 'Wyoming'],
  ['as', 'American Samoa'], ['gu', 'Guam'], ['mp', 'Northern Mariana Islands'], ['pr', 'Puerto Rico'],
  ['vi', 'U.S. Virgin Islands'],
];

/** Lowercase code by code and by name, both reduced to their a–z letters ("N.Y." and "new york" alike). */
const US_STATE_CODE_BY_LETTERS: ReadonlyMap<string, string> = new Map(
  US_STATES.flatMap(([code, name]): [string, string][] => [
    [code, code],
    [asciiAlphanumeric(name, false), code],
  ]).concat([['washingtondc', 'dc'], ['virginislands', 'vi']]),
);

/** The two-letter code of a US state written as a code or a name, given as its a–z letters. */
export function usStateCode(letters: string): string | undefined {
  return US_STATE_CODE_BY_LETTERS.get(letters);
}
